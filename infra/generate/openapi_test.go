package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/openapi"
)

// committedOpenAPI is the committed document, decoded (TestGeneratedFilesAreCurrent
// holds it equal to what make generate writes).
func committedOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(OpenAPIFile)))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every documented route of the manifests (every http function of a shop
// service) is an operation of the document, with the manifest's method,
// path and auth, and the document has no other operation.
func TestOpenAPIHasEveryRouteAndNoOther(t *testing.T) {
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc := committedOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	want := map[string]bool{}
	for _, svc := range set.Services {
		for _, fn := range svc.Functions {
			if !openapi.Documented(svc, fn) {
				continue
			}
			key := fn.HTTP.Method + " " + fn.HTTP.Path
			want[key] = true
			item, _ := paths[fn.HTTP.Path].(map[string]any)
			op, _ := item[strings.ToLower(fn.HTTP.Method)].(map[string]any)
			if op == nil {
				t.Errorf("route %s (%s) has no operation in %s", key, fn.Name, OpenAPIFile)
				continue
			}
			if op["operationId"] != fn.Name || op["x-shop-auth"] != fn.HTTP.Auth {
				t.Errorf("%s: operationId %v, x-shop-auth %v; the manifest says %s, %s", key, op["operationId"], op["x-shop-auth"], fn.Name, fn.HTTP.Auth)
			}
			sec, _ := op["security"].([]any)
			if (fn.HTTP.Auth == manifest.AuthNone) != (len(sec) == 0) {
				t.Errorf("%s: auth %s but security %v", key, fn.HTTP.Auth, sec)
			}
			if scope, ok := strings.CutPrefix(fn.HTTP.Auth, "scope:"); ok {
				if got := fmt.Sprint(sec); got != fmt.Sprintf("[map[serviceAuth:[%s]]]", scope) {
					t.Errorf("%s: security %s, want the service token with scope %s", key, got, scope)
				}
			}
		}
	}
	for path, item := range paths {
		for method := range item.(map[string]any) {
			if key := strings.ToUpper(method) + " " + path; !want[key] {
				t.Errorf("operation %s names no documented route of the manifests", key)
			}
		}
	}
	// And the builder refuses to build a document that would miss one.
	ops := Operations()
	if _, err := openapi.Build(set, ops[1:]); err == nil || !strings.Contains(err.Error(), ops[0].Function) {
		t.Errorf("a route without its operation: %v", err)
	}
	if _, err := openapi.Build(set, append(slices.Clone(ops), apidoc.Operation{Function: "inventory-nothing", Status: 200})); err == nil ||
		!strings.Contains(err.Error(), "inventory-nothing") {
		t.Errorf("an operation without a route: %v", err)
	}
}

// The schemas are the Go types' JSON: a value of each request and response
// type with every field set (slices of one element, pointers non-nil)
// writes exactly the properties its schema names, nested ones included,
// and both that value and the zero value (what a handler writes for empty
// fields) are valid against the schema, checked by a JSON Schema validator
// (santhosh-tekuri/jsonschema, draft 2020-12) on the committed document.
// A json tag renamed without regenerating, a field the schema marks
// required but omitempty drops, or a MarshalJSON writing another shape
// fails here.
func TestOpenAPISchemasAreTheJSONTheCodeWrites(t *testing.T) {
	doc := committedOpenAPI(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(OpenAPIFile)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	docJSON, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	const uri = "https://shop.invalid/openapi.json"
	if err := c.AddResource(uri, docJSON); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	checked := 0
	for _, op := range Operations() {
		for _, body := range []struct {
			v       any
			request bool
		}{{op.Request, true}, {op.Response, false}} {
			if body.v == nil {
				continue
			}
			typ := reflect.TypeOf(body.v)
			name := componentName(typ)
			schema, ok := schemas[name].(map[string]any)
			if !ok {
				t.Errorf("%s: %v has no component %s", op.Function, typ, name)
				continue
			}
			compiled, err := c.Compile(uri + "#/components/schemas/" + name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			full := filled(typ)
			fullJSON, err := json.Marshal(full.Interface())
			if err != nil {
				t.Fatal(err)
			}
			var written any
			if err := json.Unmarshal(fullJSON, &written); err != nil {
				t.Fatal(err)
			}
			sameKeys(t, op.Function+" "+name, schema, written, schemas)
			zeroJSON, err := json.Marshal(reflect.New(typ).Elem().Interface())
			if err != nil {
				t.Fatal(err)
			}
			for what, js := range map[string][]byte{"every field set": fullJSON, "zero": zeroJSON} {
				if body.request && what == "zero" {
					continue // a zero request fails its required fields, as it should
				}
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
				if err != nil {
					t.Fatal(err)
				}
				if err := compiled.Validate(inst); err != nil {
					t.Errorf("%s: %v with %s writes %s, which its schema refuses: %v", op.Function, typ, what, js, err)
				}
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d bodies: the operations' types were not found", checked)
	}
}

func componentName(t reflect.Type) string {
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

// sameKeys compares the property names of schema with the keys of written,
// the JSON of a value with every field set, down through objects and arrays.
func sameKeys(t *testing.T, at string, schema map[string]any, written any, schemas map[string]any) {
	t.Helper()
	if ref, ok := schema["$ref"].(string); ok {
		schema = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	switch w := written.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			if ap, ok := schema["additionalProperties"].(map[string]any); ok {
				for k, v := range w {
					sameKeys(t, at+"."+k, ap, v, schemas)
				}
			}
			return
		}
		for k, v := range w {
			ps, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s: the code writes %q, the schema has no such property", at, k)
				continue
			}
			sameKeys(t, at+"."+k, ps, v, schemas)
		}
		for k := range props {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: the schema documents %q, the code never writes it", at, k)
			}
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for i, v := range w {
			if items == nil {
				t.Errorf("%s: an array without items in the schema", at)
				return
			}
			sameKeys(t, at+"["+strconv.Itoa(i)+"]", items, v, schemas)
		}
	}
}

var timeType = reflect.TypeFor[time.Time]()

// filled returns a value of t with every field set to something valid for
// the tags the repository uses: strings "x123456789012" (an e-mail, a currency, a
// phone or a language tag where the field's tags ask for one), numbers 1,
// slices and maps of one element, pointers to filled values.
func filled(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	fill(v, "")
	return v
}

var phone = regexp.MustCompile(`e164`)

func fill(v reflect.Value, tag string) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), tag)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() {
				fill(v.Field(i), f.Tag.Get("validate")+" "+f.Name)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), tag)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, "")
		fill(e, tag)
		v.SetMapIndex(k, e)
	case reflect.String:
		switch {
		case strings.Contains(tag, "email"):
			v.SetString("someone@example.com")
		case phone.MatchString(tag):
			v.SetString("+441234567890")
		case strings.Contains(tag, "iso4217"), strings.HasSuffix(tag, " Currency"):
			v.SetString("EUR")
		case strings.Contains(tag, "bcp47"):
			v.SetString("en-GB")
		default:
			v.SetString("x123456789012")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// The document is OpenAPI 3.1, checked structurally (the official OAS 3.1
// JSON Schema is not vendored here): the version, info, every path
// templated as the manifests write them with each {param} a required path
// parameter, unique operation ids, responses keyed by status with a
// description, parameters in a known place with a schema, security naming
// declared schemes, every $ref resolving, every schema a valid JSON Schema
// 2020-12 (the dialect of OpenAPI 3.1: compiled against its metaschema by
// santhosh-tekuri/jsonschema), and every error response a problem body.
// schemathesis, which refuses an invalid document, loads it end to end
// (tests/schemathesis_test.go).
func TestOpenAPIIsValid31(t *testing.T) {
	doc := committedOpenAPI(t)
	raw, _ := json.Marshal(doc)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info %v lacks title or version", info)
	}
	components := doc["components"].(map[string]any)
	schemes := components["securitySchemes"].(map[string]any)
	resolve := func(ref string) any {
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		return cur
	}
	for _, ref := range regexp.MustCompile(`"\$ref":"([^"]*)"`).FindAllStringSubmatch(string(raw), -1) {
		if !strings.HasPrefix(ref[1], "#/") || resolve(ref[1]) == nil {
			t.Errorf("$ref %s does not resolve", ref[1])
		}
	}
	ids := map[string]bool{}
	statusRE := regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q", path)
		}
		for method, o := range item.(map[string]any) {
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				t.Errorf("%s: method %q", path, method)
				continue
			}
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q empty or used twice", method, path, id)
			}
			ids[id] = true
			pathParams := map[string]bool{}
			for _, p := range op["parameters"].([]any) {
				p := p.(map[string]any)
				in, _ := p["in"].(string)
				if !slices.Contains([]string{"query", "header", "path", "cookie"}, in) || p["name"] == "" || p["schema"] == nil {
					t.Errorf("%s %s: parameter %v", method, path, p)
				}
				if in == "path" {
					if p["required"] != true {
						t.Errorf("%s %s: path parameter %v not required", method, path, p["name"])
					}
					pathParams[p["name"].(string)] = true
				}
			}
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				if !pathParams[m[1]] {
					t.Errorf("%s %s: {%s} is no path parameter", method, path, m[1])
				}
				delete(pathParams, m[1])
			}
			if len(pathParams) > 0 {
				t.Errorf("%s %s: path parameters %v not in the path", method, path, pathParams)
			}
			for _, req := range op["security"].([]any) {
				for name := range req.(map[string]any) {
					if schemes[name] == nil {
						t.Errorf("%s %s: security names %q, not a declared scheme", method, path, name)
					}
				}
			}
			responses := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			for status, r := range responses {
				if !statusRE.MatchString(status) {
					t.Errorf("%s %s: response key %q", method, path, status)
				}
				resp := r.(map[string]any)
				if ref, ok := resp["$ref"].(string); ok {
					resp, _ = resolve(ref).(map[string]any)
				}
				if resp["description"] == nil {
					t.Errorf("%s %s %s: no description", method, path, status)
				}
				if n, _ := strconv.Atoi(status); n >= 400 {
					content, _ := resp["content"].(map[string]any)
					if content["application/problem+json"] == nil {
						t.Errorf("%s %s %s: not a problem body", method, path, status)
					}
				}
			}
		}
	}
	// Every schema, as OpenAPI 3.1 reads it: JSON Schema 2020-12.
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("https://shop.invalid/openapi.json", inst); err != nil {
		t.Fatal(err)
	}
	for name := range components["schemas"].(map[string]any) {
		if _, err := c.Compile("https://shop.invalid/openapi.json#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	if len(ids) < 15 {
		t.Fatalf("%d operations", len(ids))
	}
}

// An operation documents the Idempotency-Key header as its function's main
// wires the middleware (shared/idempotency): not at all without it,
// required exactly when Required is true. The main is read as text: it is
// package main, and its wiring is one call.
func TestOpenAPIIdempotencyKeyIsWhatMainWires(t *testing.T) {
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*manifest.Function{}
	for _, fn := range set.Functions() {
		byName[fn.Name] = fn
	}
	wrap := regexp.MustCompile(`idempotency\.New\([^)]*idempotency\.Options\{(?s:[^}]*?)Required:\s*(true|false)`)
	wired := 0
	for _, op := range Operations() {
		fn := byName[op.Function]
		if fn == nil {
			t.Errorf("%s: no such function", op.Function)
			continue
		}
		src, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(fn.Dir), "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		want := apidoc.NoIdempotencyKey
		if m := wrap.FindSubmatch(src); m != nil {
			want = apidoc.OptionalIdempotencyKey
			if string(m[1]) == "true" {
				want = apidoc.RequiredIdempotencyKey
			}
			wired++
		} else if strings.Contains(string(src), "idempotency.") {
			t.Errorf("%s: main.go uses shared/idempotency in a way this test cannot read: name Required in its Options", op.Function)
		}
		if op.Idempotency != want {
			t.Errorf("%s documents Idempotency-Key as %d, its main wires %d (0 none, 1 optional, 2 required)", op.Function, op.Idempotency, want)
		}
	}
	if wired < 4 {
		t.Fatalf("found the idempotency middleware in %d mains: the pattern no longer matches", wired)
	}
}
