package livediff

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Diff returns every difference between two snapshots, one readable line
// each, in a fixed order (State's field order, then names, then fields):
//
//	function users-get: memory 128 vs 256
//	api http: route GET /v1/x: only in b
//	role users-login: inline policy least-privilege: statement sid OwnTable: only in a
//
// A resource is named without its "{prefix}-". "a" and "b" are the first
// and the second argument. Fields tagged diff:"-" (tags, code hashes,
// architectures; see the package doc) are not compared. Empty means the
// stacks are the same but for their prefixes and the ids the cloud assigned.
func Diff(a, b *State) []string {
	var out []string
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range av.NumField() {
		kind := kindOf(av.Type().Field(i))
		if kind == "" || kind == "-" {
			continue
		}
		x, y := av.Field(i), bv.Field(i)
		for _, key := range unionKeys(x, y) {
			path := []string{kind + " " + displayName(key.String())}
			diffEntry(&out, path, x.MapIndex(key), y.MapIndex(key))
		}
	}
	return out
}

// displayName is a resource name as Diff shows it: without "{prefix}-".
func displayName(name string) string {
	if short, ok := strings.CutPrefix(name, PrefixToken+"-"); ok && short != "" {
		return short
	}
	return name
}

// diffEntry compares one map entry, either side possibly absent.
func diffEntry(out *[]string, path []string, x, y reflect.Value) {
	switch {
	case !x.IsValid() && !y.IsValid():
	case !y.IsValid():
		*out = append(*out, strings.Join(path, ": ")+": only in a")
	case !x.IsValid():
		*out = append(*out, strings.Join(path, ": ")+": only in b")
	default:
		diffValue(out, path, x, y)
	}
}

// diffValue compares two values of one type at path.
func diffValue(out *[]string, path []string, x, y reflect.Value) {
	switch x.Kind() {
	case reflect.Pointer:
		if x.IsNil() || y.IsNil() {
			if x.IsNil() != y.IsNil() {
				*out = append(*out, fmt.Sprintf("%s %s vs %s", strings.Join(path, ": "), show(x), show(y)))
			}
			return
		}
		diffValue(out, path, x.Elem(), y.Elem())
	case reflect.Struct:
		for i := range x.NumField() {
			f := x.Type().Field(i)
			label := f.Tag.Get("diff")
			if label == "-" || !f.IsExported() {
				continue
			}
			if label == "" {
				label = strings.ToLower(f.Name)
			}
			if x.Field(i).Kind() == reflect.Map {
				for _, key := range unionKeys(x.Field(i), y.Field(i)) {
					sub := append(append([]string(nil), path...), label+" "+key.String())
					diffEntry(out, sub, x.Field(i).MapIndex(key), y.Field(i).MapIndex(key))
				}
				continue
			}
			diffValue(out, append(append([]string(nil), path...), label), x.Field(i), y.Field(i))
		}
	default:
		if sx, sy := show(x), show(y); sx != sy {
			// The last part of the path is a field: its values follow it
			// after a space, not a colon.
			*out = append(*out, fmt.Sprintf("%s %s vs %s", strings.Join(path, ": "), sx, sy))
		}
	}
}

// unionKeys returns the keys of two maps of one type, sorted.
func unionKeys(x, y reflect.Value) []reflect.Value {
	seen := map[string]reflect.Value{}
	for _, m := range []reflect.Value{x, y} {
		for _, k := range m.MapKeys() {
			seen[k.String()] = k
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	keys := make([]reflect.Value, 0, len(names))
	for _, n := range names {
		keys = append(keys, seen[n])
	}
	return keys
}

// show formats a value for a diff line: strings quoted when empty or when
// they hold a space, lists in brackets.
func show(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return strconv.Quote(s)
		}
		return s
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = show(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Pointer:
		if v.IsNil() {
			return "(none)"
		}
		return show(v.Elem())
	}
	return fmt.Sprint(v.Interface())
}
