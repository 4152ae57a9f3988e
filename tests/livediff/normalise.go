package livediff

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Tokens that stand for what differs between two stacks by construction.
const (
	PrefixToken  = "{prefix}"
	AccountToken = "{account}"
	SuffixToken  = "{suffix}" // the six random characters Secrets Manager appends to a secret's ARN
)

// normaliser rewrites what two stacks cannot share: the stack's prefix
// (where it stands as a whole name part), the account in ARNs, the random
// suffix of secret ARNs, and the ids the cloud assigns (API, authorizer,
// integration and route ids), each replaced by a token that says what it
// was. Revision ids, timestamps and the like are never recorded at all.
type normaliser struct {
	prefix string
	// nested are the prefixes of other stacks on the same emulator that
	// begin with prefix+"-" ("shop-tf" beside "shop"): their names also
	// begin with prefix+"-", yet they are not this stack's.
	nested []string
	// ids maps a cloud-assigned id to its token.
	ids   map[string]string
	idsRE *regexp.Regexp
}

func newNormaliser(prefix string, stackPrefixes []string) *normaliser {
	n := &normaliser{prefix: prefix, ids: map[string]string{}}
	for _, p := range stackPrefixes {
		if strings.HasPrefix(p, prefix+"-") && !slices.Contains(n.nested, p) {
			n.nested = append(n.nested, p)
		}
	}
	sort.Strings(n.nested)
	return n
}

// ownedBy reports whether a physical name belongs to the stack of prefix:
// the prefix is the name's first part, followed by "-" or "/" or nothing
// ("shop-users", "shop/signing/users", but not "workshop-users" nor
// "shopping-list").
func ownedBy(prefix, name string) bool {
	return name == prefix || strings.HasPrefix(name, prefix+"-") || strings.HasPrefix(name, prefix+"/")
}

// owns reports whether name is this stack's: owned by its prefix and by no
// nested stack's.
func (n *normaliser) owns(name string) bool {
	if !ownedBy(n.prefix, name) {
		return false
	}
	for _, other := range n.nested {
		if ownedBy(other, name) {
			return false
		}
	}
	return true
}

// ownsPath reports whether a slash-separated name has a segment this stack
// owns: a log group /aws/lambda/<prefix>-users-get, a parameter
// /<prefix>/jwks.
func (n *normaliser) ownsPath(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if seg != "" && n.owns(seg) {
			return true
		}
	}
	return false
}

// id registers a cloud-assigned id, to be replaced by token wherever it
// stands as a whole word.
func (n *normaliser) id(id, token string) {
	if id == "" {
		return
	}
	n.ids[id] = token
	n.idsRE = nil
}

var (
	// arnAccountRE finds the account field of an ARN:
	// arn:<partition>:<service>:<region>:<account>:...
	arnAccountRE = regexp.MustCompile(`(arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:)[0-9]{12}(:)`)
	// secretSuffixRE finds the random suffix of a secret ARN; a pattern such
	// as "-??????" in a policy is left alone.
	secretSuffixRE = regexp.MustCompile(`(:secret:[A-Za-z0-9/_+=.@-]+)-[A-Za-z0-9]{6}\b`)
)

// str normalises one string: ids, then accounts and secret suffixes in
// ARNs, then the prefix.
func (n *normaliser) str(s string) string {
	if len(n.ids) > 0 {
		if n.idsRE == nil {
			ids := make([]string, 0, len(n.ids))
			for id := range n.ids {
				ids = append(ids, regexp.QuoteMeta(id))
			}
			sort.Slice(ids, func(i, j int) bool { return len(ids[i]) > len(ids[j]) || len(ids[i]) == len(ids[j]) && ids[i] < ids[j] })
			n.idsRE = regexp.MustCompile(`\b(` + strings.Join(ids, "|") + `)\b`)
		}
		s = n.idsRE.ReplaceAllStringFunc(s, func(id string) string { return n.ids[id] })
	}
	s = arnAccountRE.ReplaceAllString(s, "${1}"+AccountToken+"${2}")
	s = secretSuffixRE.ReplaceAllString(s, "${1}-"+SuffixToken)
	return replacePrefix(s, n.prefix)
}

// replacePrefix replaces prefix by PrefixToken where it stands as a whole
// name part: not preceded by a name character (letter, digit, "_", ".",
// "-"), and followed by "-", "/" or the end of the string. So with prefix
// "shop", "shop-users", "table/shop-users", "/shop/jwks" and "shop" change,
// and "workshop-users", "my-shop-users", "shopping" and "the shop stack"
// do not.
func replacePrefix(s, prefix string) string {
	if prefix == "" {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, prefix)
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := i + len(prefix)
		before := len(s) - len(rest) + i // index in s
		leftOK := before == 0 || !isNameChar(s[before-1])
		rightOK := end == len(rest) || rest[end] == '-' || rest[end] == '/'
		b.WriteString(rest[:i])
		if leftOK && rightOK {
			b.WriteString(PrefixToken)
		} else {
			b.WriteString(prefix)
		}
		rest = rest[end:]
	}
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// value returns a copy of v with every string in it, map keys included,
// normalised. Two keys of a map that normalise to the same string would
// silently merge; they keep apart with a " (2)" suffix instead.
func (n *normaliser) value(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(n.str(v.String()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(n.value(v.Field(i)))
			}
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			nk := n.value(k)
			if nk.Kind() == reflect.String {
				for i := 2; out.MapIndex(nk).IsValid(); i++ {
					nk = reflect.ValueOf(fmt.Sprintf("%s (%d)", n.str(k.String()), i)).Convert(k.Type())
				}
			}
			out.SetMapIndex(nk, n.value(v.MapIndex(k)))
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(n.value(v.Index(i)))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(n.value(v.Elem()))
		return out
	}
	return v
}

// state normalises a whole snapshot.
func (n *normaliser) state(s *State) *State {
	out := n.value(reflect.ValueOf(s)).Interface().(*State)
	out.Prefix = s.Prefix
	return out
}
