package infra

// A small, deliberately partial Terraform evaluator for the checks in
// terraform_test.go: it parses a module's .tf files, binds variables through
// their real type constraints (optional attributes and defaults included),
// evaluates locals in dependency order and evaluates chosen resource
// arguments for each for_each key. Resource attributes only AWS knows (ARNs)
// are stood in for by recognisable fake values, so wiring can be followed from
// a function's output to the route that invokes it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"go.yaml.in/yaml/v3"
)

// tfModule is one directory of .tf files, parsed.
type tfModule struct {
	dir    string
	blocks []*hclsyntax.Block // top-level blocks of every file, files in name order
}

func parseModule(dir string) (*tfModule, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(names)
	m := &tfModule{dir: dir}
	parser := hclparse.NewParser()
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, diags := parser.ParseHCL(src, name)
		if diags.HasErrors() {
			return nil, diags
		}
		m.blocks = append(m.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return m, nil
}

// find returns the top-level blocks of a type whose labels start with labels.
func (m *tfModule) find(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && len(b.Labels) >= len(labels) && slices.Equal(b.Labels[:len(labels)], labels) {
			out = append(out, b)
		}
	}
	return out
}

func (m *tfModule) one(typ string, labels ...string) (*hclsyntax.Block, error) {
	bs := m.find(typ, labels...)
	if len(bs) != 1 {
		return nil, fmt.Errorf("%s: want exactly one %s %q block, found %d", m.dir, typ, labels, len(bs))
	}
	return bs[0], nil
}

// childBlocks returns the nested blocks of a type, in order.
func childBlocks(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// scope is what an expression may reference: path, var, local and whatever
// stand-ins (each, module, resources) the caller adds.
type scope struct {
	path   cty.Value
	vars   map[string]cty.Value
	locals map[string]cty.Value
	extra  map[string]cty.Value
}

func (s scope) with(name string, v cty.Value) scope {
	extra := make(map[string]cty.Value, len(s.extra)+1)
	for k, x := range s.extra {
		extra[k] = x
	}
	extra[name] = v
	s.extra = extra
	return s
}

func (s scope) ctx() *hcl.EvalContext {
	vars := map[string]cty.Value{
		"path":  s.path,
		"var":   cty.ObjectVal(s.vars),
		"local": cty.ObjectVal(s.locals),
	}
	for k, v := range s.extra {
		vars[k] = v
	}
	return &hcl.EvalContext{Variables: vars, Functions: tfFunctions}
}

func (s scope) has(root string) bool {
	switch root {
	case "path", "var", "local":
		return true
	}
	_, ok := s.extra[root]
	return ok
}

func (s scope) eval(expr hcl.Expression) (cty.Value, error) {
	v, diags := expr.Value(s.ctx())
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, nil
}

// attr evaluates a block's argument; an absent argument is null, as in
// Terraform.
func (s scope) attr(b *hclsyntax.Block, name string) (cty.Value, error) {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	return s.eval(a.Expr)
}

// nested returns the evaluated arguments of every nested block of a type:
// the literal ones and each expansion of `dynamic "<typ>"` blocks, whose
// iterator is the block type unless an `iterator` argument renames it. The
// plain blocks inside each (a statement's condition) appear under their type
// as a tuple of objects of their arguments.
func (s scope) nested(b *hclsyntax.Block, typ string) ([]map[string]cty.Value, error) {
	var out []map[string]cty.Value
	evalBody := func(body *hclsyntax.Body, s scope) error {
		vals := map[string]cty.Value{}
		for name, a := range body.Attributes {
			v, err := s.eval(a.Expr)
			if err != nil {
				return err
			}
			vals[name] = v
		}
		inner := map[string][]cty.Value{}
		for _, c := range body.Blocks {
			if c.Type == "dynamic" {
				return fmt.Errorf("%s: a dynamic block inside %q is not implemented by this test", c.Range(), typ)
			}
			args := map[string]cty.Value{}
			for name, a := range c.Body.Attributes {
				v, err := s.eval(a.Expr)
				if err != nil {
					return err
				}
				args[name] = v
			}
			inner[c.Type] = append(inner[c.Type], objectOf(args))
		}
		for t, blocks := range inner {
			vals[t] = cty.TupleVal(blocks)
		}
		out = append(out, vals)
		return nil
	}
	for _, c := range b.Body.Blocks {
		switch {
		case c.Type == typ:
			if err := evalBody(c.Body, s); err != nil {
				return nil, err
			}
		case c.Type == "dynamic" && len(c.Labels) == 1 && c.Labels[0] == typ:
			iterator := typ
			if it, ok := c.Body.Attributes["iterator"]; ok {
				iterator = hcl.ExprAsKeyword(it.Expr)
			}
			forEach, err := s.attr(c, "for_each")
			if err != nil {
				return nil, err
			}
			contents := childBlocks(c, "content")
			if len(contents) != 1 || !forEach.IsKnown() || forEach.IsNull() {
				return nil, fmt.Errorf("%s: dynamic %q needs one content block and a known for_each", c.Range(), typ)
			}
			for it := forEach.ElementIterator(); it.Next(); {
				k, v := it.Element()
				iter := cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})
				if err := evalBody(contents[0].Body, s.with(iterator, iter)); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// count evaluates a block's count; a block without one has one instance.
func (s scope) count(b *hclsyntax.Block) (int, error) {
	if _, ok := b.Body.Attributes["count"]; !ok {
		return 1, nil
	}
	v, err := s.attr(b, "count")
	if err != nil {
		return 0, err
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, fmt.Errorf("%s: count is %s, want a known number", b.DefRange(), show(v))
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 || n < 0 {
		return 0, fmt.Errorf("%s: count is %s, want a whole number >= 0", b.DefRange(), show(v))
	}
	return int(n), nil
}

// forEach evaluates a block's for_each into its instances: key -> each.
func (s scope) forEach(b *hclsyntax.Block) (map[string]cty.Value, error) {
	v, err := s.attr(b, "for_each")
	if err != nil {
		return nil, err
	}
	if v.IsNull() || !v.IsKnown() {
		return nil, fmt.Errorf("%s: for_each is missing or unknown", b.DefRange())
	}
	out := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		key, ok := asString(k)
		if !ok {
			return nil, fmt.Errorf("%s: for_each key %#v is not a string", b.DefRange(), k)
		}
		out[key] = cty.ObjectVal(map[string]cty.Value{"key": k, "value": val})
	}
	return out, nil
}

// bindVariables gives every variable of m its value from args, or its
// default, the way Terraform does: defaults of optional attributes applied
// first, then conversion to the type constraint.
func bindVariables(m *tfModule, args map[string]cty.Value) (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	for _, b := range m.find("variable") {
		name := b.Labels[0]
		ty, defaults := cty.DynamicPseudoType, (*typeexpr.Defaults)(nil)
		if a, ok := b.Body.Attributes["type"]; ok {
			var diags hcl.Diagnostics
			ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr)
			if diags.HasErrors() {
				return nil, diags
			}
		}
		val, given := args[name]
		if !given {
			a, ok := b.Body.Attributes["default"]
			if !ok {
				return nil, fmt.Errorf("%s: variable %q is required and not set", m.dir, name)
			}
			var diags hcl.Diagnostics
			if val, diags = a.Expr.Value(nil); diags.HasErrors() {
				return nil, diags
			}
		}
		if defaults != nil {
			val = defaults.Apply(val)
		}
		conv, err := convert.Convert(val, ty)
		if err != nil {
			return nil, fmt.Errorf("%s: variable %q: %s", m.dir, name, err)
		}
		out[name] = conv
	}
	for name := range args {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("%s: no variable %q", m.dir, name)
		}
	}
	return out, nil
}

// evalLocals evaluates m's locals in dependency order. A local that refers
// to something the scope lacks (a resource, a module output) is left out and
// named in skipped, with every local that depends on it.
func evalLocals(m *tfModule, s scope) (locals map[string]cty.Value, skipped []string, err error) {
	exprs := map[string]hclsyntax.Expression{}
	for _, b := range m.find("locals") {
		for name, a := range b.Body.Attributes {
			if _, dup := exprs[name]; dup {
				return nil, nil, fmt.Errorf("%s: local %q is defined twice", a.SrcRange, name)
			}
			exprs[name] = a.Expr
		}
	}
	s.locals = map[string]cty.Value{}
	pending := map[string]bool{}
	for name, e := range exprs {
		pending[name] = true
		for _, tr := range e.Variables() {
			if !s.has(tr.RootName()) {
				delete(pending, name)
				skipped = append(skipped, name)
				break
			}
		}
	}
	for len(pending) > 0 {
		progress := false
		for _, name := range sortedKeys(pending) {
			ready := true
			for _, tr := range exprs[name].Variables() {
				if tr.RootName() != "local" {
					continue
				}
				dep := localName(tr)
				if _, defined := exprs[dep]; !defined {
					return nil, nil, fmt.Errorf("%s: local.%s refers to undefined local.%s", m.dir, name, dep)
				}
				if _, done := s.locals[dep]; !done {
					ready = false
				}
			}
			if !ready {
				continue
			}
			v, err := s.eval(exprs[name])
			if err != nil {
				return nil, nil, fmt.Errorf("local.%s: %w", name, err)
			}
			s.locals[name] = v
			delete(pending, name)
			progress = true
		}
		if !progress {
			// What is left waits on a skipped local, or on a cycle.
			for name := range pending {
				skipped = append(skipped, name)
			}
			break
		}
	}
	sort.Strings(skipped)
	return s.locals, skipped, nil
}

func localName(tr hcl.Traversal) string {
	if len(tr) > 1 {
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			return a.Name
		}
	}
	return ""
}

// traversalString renders a traversal like Terraform source: a.b["k"].c.
func traversalString(tr hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if k, ok := asString(s.Key); ok {
				sb.WriteString(fmt.Sprintf("[%q]", k))
			} else {
				sb.WriteString(fmt.Sprintf("[%s]", s.Key.GoString()))
			}
		case hcl.TraverseSplat:
			sb.WriteString("[*]")
		}
	}
	return sb.String()
}

// --- the Terraform functions the evaluated expressions use ---------------
//
// fileset, file, yamldecode, dirname, basename and one mirror Terraform's
// (lang/funcs) closely enough for manifests; try is HCL's, as in Terraform;
// the rest are the cty standard library functions Terraform itself registers
// under these names. An expression calling anything else fails with "Call
// to unknown function", which is the cue to add it here.
var tfFunctions = map[string]function.Function{
	"basename":   pathFunc(filepath.Base),
	"concat":     stdlib.ConcatFunc,
	"dirname":    pathFunc(filepath.Dir),
	"distinct":   stdlib.DistinctFunc,
	"file":       fileFunc,
	"fileset":    filesetFunc,
	"flatten":    stdlib.FlattenFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"merge":      stdlib.MergeFunc,
	"one":        oneFunc,
	"replace":    replaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc,
	"try":        tryfunc.TryFunc,
	"values":     stdlib.ValuesFunc,
	"yamldecode": yamldecodeFunc,
}

// replace(string, substr, replacement) is Terraform's: a substr wrapped in
// slashes is a regular expression (RE2, as Go's), anything else is literal.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "substr", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		substr := args[1].AsString()
		if len(substr) > 1 && strings.HasPrefix(substr, "/") && strings.HasSuffix(substr, "/") {
			return stdlib.RegexReplace(args[0], cty.StringVal(substr[1:len(substr)-1]), args[2])
		}
		return stdlib.Replace(args[0], args[1], args[2])
	},
})

// one(list): the only element, null when there is none, and an error when
// there are more, with Terraform's message (the root relies on it to refuse
// a second authorizer).
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		switch ty := args[0].Type(); {
		case ty.IsListType(), ty.IsSetType():
			return ty.ElementType(), nil
		case ty.IsTupleType():
			switch elems := ty.TupleElementTypes(); len(elems) {
			case 0:
				return cty.DynamicPseudoType, nil
			case 1:
				return elems[0], nil
			}
		}
		return cty.NilType, errOneElement
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(retType), nil
		}
		if v.IsNull() {
			return cty.NilVal, errors.New("argument must not be null")
		}
		switch v.LengthInt() {
		case 0:
			return cty.NullVal(retType), nil
		case 1:
			it := v.ElementIterator()
			it.Next()
			_, e := it.Element()
			return e, nil
		}
		return cty.NilVal, errOneElement
	},
})

var errOneElement = errors.New("must be a list, set, or tuple value with either zero or one elements")

func pathFunc(f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

// fileset(path, pattern): regular files under path matching pattern, as
// slash-separated paths relative to path. filepath.Glob's "*" stops at "/"
// like the doublestar matcher Terraform uses; "**" is not needed here.
var filesetFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Set(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		base, pattern := args[0].AsString(), args[1].AsString()
		if strings.Contains(pattern, "**") {
			return cty.NilVal, errors.New(`fileset: "**" is not implemented by this test`)
		}
		matches, err := filepath.Glob(filepath.Join(base, pattern))
		if err != nil {
			return cty.NilVal, err
		}
		var vals []cty.Value
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			rel, err := filepath.Rel(filepath.Clean(base), m)
			if err != nil {
				return cty.NilVal, err
			}
			vals = append(vals, cty.StringVal(filepath.ToSlash(rel)))
		}
		if len(vals) == 0 {
			return cty.SetValEmpty(cty.String), nil
		}
		return cty.SetVal(vals), nil
	},
})

var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		src, err := os.ReadFile(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		if !utf8.Valid(src) {
			return cty.NilVal, fmt.Errorf("%s is not valid UTF-8", args[0].AsString())
		}
		return cty.StringVal(string(src)), nil
	},
})

// yamldecode maps YAML the way Terraform's does: mappings to objects,
// sequences to tuples, scalars by their resolved tag.
var yamldecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		v, err := yamlDecode(args[0].AsString())
		if err != nil {
			return cty.NilType, err
		}
		return v.Type(), nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return yamlDecode(args[0].AsString())
	},
})

func yamlDecode(src string) (cty.Value, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return cty.NilVal, err
	}
	return yamlValue(&doc)
}

func yamlValue(n *yaml.Node) (cty.Value, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		attrs := map[string]cty.Value{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := attrs[k]; dup {
				return cty.NilVal, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = v
		}
		return cty.ObjectVal(attrs), nil
	case yaml.SequenceNode:
		elems := make([]cty.Value, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return cty.NilVal, err
			}
			elems = append(elems, v)
		}
		return cty.TupleVal(elems), nil
	case yaml.ScalarNode:
		// Terraform's decoder (go-cty-yaml) still reads plain y/yes/on/off/...
		// as booleans (YAML 1.1), where yaml.v3 and so the manifest loader
		// read strings; mirror it so the comparison sees what Terraform sees.
		if b, ok := yaml11Bools[n.Value]; ok && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return cty.BoolVal(b), nil
		}
		switch n.ShortTag() {
		case "!!null":
			return cty.NullVal(cty.DynamicPseudoType), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return cty.NilVal, err
			}
			return cty.BoolVal(b), nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return cty.NilVal, err
			}
			return cty.NumberIntVal(i), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return cty.NilVal, err
			}
			return cty.NumberFloatVal(f), nil
		case "!!timestamp":
			// Terraform renders timestamps as RFC 3339 strings.
			var t time.Time
			if err := n.Decode(&t); err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(t.Format(time.RFC3339)), nil
		default:
			return cty.StringVal(n.Value), nil
		}
	}
	return cty.NilVal, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// --- cty helpers ----------------------------------------------------------

func asString(v cty.Value) (string, bool) {
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// show renders a value for a failure message.
func show(v cty.Value) string {
	switch {
	case v == cty.NilVal:
		return "<nothing>"
	case !v.IsKnown():
		return "<unknown>"
	case v.IsNull():
		return "<null>"
	}
	if s, ok := asString(v); ok {
		return fmt.Sprintf("%q", s)
	}
	return v.GoString()
}

// get reads an attribute of an object or an element of a map; null if absent.
func get(v cty.Value, name string) cty.Value {
	if !v.IsKnown() || v.IsNull() {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	switch t := v.Type(); {
	case t.IsObjectType() && t.HasAttribute(name):
		return v.GetAttr(name)
	case t.IsMapType() && v.HasIndex(cty.StringVal(name)).True():
		return v.Index(cty.StringVal(name))
	}
	return cty.NullVal(cty.DynamicPseudoType)
}

// keysOf lists the attribute names of an object or the keys of a map, sorted.
func keysOf(v cty.Value) []string {
	var out []string
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	sort.Strings(out)
	return out
}

// strings of a list, tuple or set of known strings; ok is false otherwise.
func stringList(v cty.Value) (out []string, ok bool) {
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, false
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, ok := asString(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func stringMap(v cty.Value) (map[string]string, bool) {
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, false
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		s, ok := asString(e)
		if !ok {
			return nil, false
		}
		out[k.AsString()] = s
	}
	return out, true
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
