package explain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
)

// The two validators must give the same verdict on any event: functions
// decide with catalog.Validate (google/jsonschema-go), the ingest endpoint
// and tests with explain.Validate (santhosh-tekuri/jsonschema/v6). Every
// example, and a few thousand of its mutations: every place removed, given
// each JSON type, pushed out of range or off its pattern, every object
// given unknown fields, every array emptied or overfilled, and the
// envelope given bad times, other types' type and dataschema, numbers
// that float64 rounds.
func TestAgreesWithCatalog(t *testing.T) {
	var valid, invalid int
	for _, typ := range catalog.Types() {
		ex, err := catalog.Example(typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mutations(t, ex) {
			ok := agree(t, typ+": "+m.name, m.event)
			if ok {
				valid++
			} else {
				invalid++
			}
		}
	}
	t.Logf("%d mutated events valid, %d invalid, the same for both validators", valid, invalid)
	if valid < 100 || invalid < 1000 {
		t.Errorf("the corpus has %d valid and %d invalid events: too few to show anything", valid, invalid)
	}
}

// FuzzAgreesWithCatalog: go test -fuzz FuzzAgreesWithCatalog ./events/explain
// looks further than the mutations; its seeds are the examples.
func FuzzAgreesWithCatalog(f *testing.F) {
	for _, typ := range catalog.Types() {
		ex, err := catalog.Example(typ)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ex)
	}
	f.Add([]byte(`{"type":"shop.order.created.v1","data":{"items":[{"quantity":1.00000000000000001}]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, event []byte) {
		agree(t, "fuzzed", event)
	})
}

// agree validates event with both validators, fails t unless they give
// the same verdict, and returns it.
func agree(t *testing.T, name string, event []byte) bool {
	t.Helper()
	fast, full := catalog.ValidateEvent(event), explain.ValidateEvent(event)
	if (fast == nil) != (full == nil) {
		t.Errorf("%s: catalog.ValidateEvent: %v; explain.ValidateEvent: %v\n%s", name, fast, full, event)
	}
	for _, err := range []error{fast, full} {
		var ve *catalog.ValidationError
		if err != nil && !errors.As(err, &ve) && !errors.Is(err, catalog.ErrUnknownType) {
			t.Errorf("%s: %v is neither a *catalog.ValidationError nor ErrUnknownType", name, err)
		}
	}
	return fast == nil
}

type mutation struct {
	name  string
	event []byte
}

// Values every place is given in turn: each JSON type, strings off every
// pattern and length, and numbers out of range or that float64 rounds to
// what they are not.
var replacements = []string{
	`null`, `true`, `false`, `{}`, `[]`, `""`, `"x"`, `" "`, `"0193f3a2-5b7c"`, `"EUR"`, `"eur"`, `"EURO"`,
	`"a/b~c"`, `"` + strings.Repeat("a", 65) + `"`, `"` + strings.Repeat("a", 201) + `"`, `"` + strings.Repeat("a", 257) + `"`,
	`0`, `-0`, `1`, `-1`, `1.0`, `1.5`, `0.5`, `64`, `100000`, `100001`, `1000000000`, `1000000001`, `1e9`, `1e400`, `-1e400`,
	`1.00000000000000001`, `0.99999999999999999`, `9007199254740993`, `1e-400`, `4503599627370496.5`,
}

// times the envelope's time is given, good and bad.
var times = []string{
	"2026-12-01T10:00:00Z", "2024-02-29T10:00:00Z", "2026-02-29T10:00:00Z", "2026-04-31T10:00:00Z",
	"2026-12-01T10:00:00.123456789+01:00", "2026-12-01t10:00:00z", "2026-12-01T23:59:60Z",
	"2026-12-01T10:00:00+24:00", "2026-12-01T10:00:00", "2026-12-01 10:00:00Z", "2026-12-01", "yesterday",
}

// mutations returns ex as given and changed in one place at a time.
func mutations(t *testing.T, ex []byte) []mutation {
	t.Helper()
	out := []mutation{{"as given", ex}}
	add := func(name string, doc any) {
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mutation{name, raw})
	}
	// Each place of the example by its path: a fresh copy is changed each time.
	var places []string
	walkPaths(decode(t, ex), "", func(p string) { places = append(places, p) })
	for _, p := range places {
		orig := get(decode(t, ex), p)
		if p != "" {
			doc := decode(t, ex)
			remove(doc, p)
			add(p+" removed", doc)
		}
		for _, r := range replacements {
			doc := decode(t, ex)
			doc = set(doc, p, decode(t, []byte(r)))
			add(p+" = "+r, doc)
		}
		switch v := orig.(type) {
		case string:
			for _, s := range []string{strings.ToLower(v), strings.ToUpper(v), v + " ", "-" + v, v + "!", v[:len(v)/2]} {
				doc := decode(t, ex)
				add(fmt.Sprintf("%s = %q", p, s), set(doc, p, s))
			}
		case json.Number:
			for _, d := range []string{"-1", "+1", "+0.5", "*-1", "*1000000000"} {
				n := numberEdit(v, d)
				doc := decode(t, ex)
				add(fmt.Sprintf("%s = %s", p, n), set(doc, p, n))
			}
		case map[string]any:
			for _, k := range []string{"extra", "Bad-Name", strings.Repeat("x", 21), ""} {
				doc := decode(t, ex)
				get(doc, p).(map[string]any)[k] = true
				add(fmt.Sprintf("%s/%s added", p, k), doc)
			}
		case []any:
			doc := decode(t, ex)
			add(p+" emptied", set(doc, p, []any{}))
			doc = decode(t, ex)
			add(p+" with 51 items", set(doc, p, slices.Repeat([]any{v[0]}, 51)))
			doc = decode(t, ex)
			add(p+" with 50 items", set(doc, p, slices.Repeat([]any{v[0]}, 50)))
			doc = decode(t, ex)
			add(p+" with an item more", set(doc, p, append(v, "x")))
		}
	}
	for _, s := range times {
		doc := decode(t, ex)
		add("/time = "+s, set(doc, "/time", s))
	}
	for _, typ := range catalog.Types() {
		doc := decode(t, ex)
		add("/type = "+typ, set(doc, "/type", typ))
		doc = decode(t, ex)
		add("/dataschema = "+catalog.SchemaURI(typ), set(doc, "/dataschema", catalog.SchemaURI(typ)))
	}
	return out
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers as written, for the validators to read
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// walkPaths calls f with the path of every place in v ("" for v itself,
// then "/data", "/data/items/0", ...).
func walkPaths(v any, path string, f func(string)) {
	f(path)
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(mapsKeys(v)) {
			walkPaths(v[k], path+"/"+k, f)
		}
	case []any:
		for i, e := range v {
			walkPaths(e, fmt.Sprintf("%s/%d", path, i), f)
		}
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func split(path string) []string { return strings.Split(path, "/")[1:] }

func get(doc any, path string) any {
	if path == "" {
		return doc
	}
	for _, k := range split(path) {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			doc = d[i]
		}
	}
	return doc
}

// set puts v at path in doc and returns doc (v itself at "").
func set(doc any, path string, v any) any {
	if path == "" {
		return v
	}
	keys := split(path)
	parent := get(doc, "/"+strings.Join(keys[:len(keys)-1], "/"))
	if len(keys) == 1 {
		parent = doc
	}
	last := keys[len(keys)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		var i int
		fmt.Sscan(last, &i)
		p[i] = v
	}
	return doc
}

// remove deletes the place at path: a field, or an item of an array.
func remove(doc any, path string) {
	keys := split(path)
	parentPath := "/" + strings.Join(keys[:len(keys)-1], "/")
	if len(keys) == 1 {
		parentPath = ""
	}
	last := keys[len(keys)-1]
	switch p := get(doc, parentPath).(type) {
	case map[string]any:
		delete(p, last)
	case []any:
		var i int
		fmt.Sscan(last, &i)
		set(doc, parentPath, slices.Delete(slices.Clone(p), i, i+1))
	}
}

// numberEdit applies d ("-1", "+0.5", "*1000000000") to n.
func numberEdit(n json.Number, d string) json.Number {
	f, _ := n.Float64()
	var x float64
	fmt.Sscan(d[1:], &x)
	switch d[0] {
	case '+':
		f += x
	case '-':
		f -= x
	case '*':
		f *= x
	}
	return json.Number(fmt.Sprint(f))
}
