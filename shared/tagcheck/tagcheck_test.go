package tagcheck

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// got lists c's failures for v as "path tag[=param] kind type".
func got(c *Checker, v any) []string {
	var out []string
	for _, f := range c.Struct(v) {
		s := f.Path + " " + f.Tag
		if f.Param != "" {
			s += "=" + f.Param
		}
		out = append(out, fmt.Sprintf("%s %s %v", s, f.Kind, f.Type))
	}
	return out
}

// expect checks that v fails exactly the tags in want, each "path tag[=param]";
// kinds and types are checked separately.
func expect(t *testing.T, v any, want ...string) {
	t.Helper()
	var paths []string
	for _, f := range New(nil).Struct(v) {
		s := f.Path + " " + f.Tag
		if f.Param != "" {
			s += "=" + f.Param
		}
		paths = append(paths, s)
	}
	if strings.Join(paths, "; ") != strings.Join(want, "; ") {
		t.Errorf("%#v:\n got  %q\n want %q", v, paths, want)
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

// TestEveryTag runs each tag on a value it accepts and a value it refuses.
func TestEveryTag(t *testing.T) {
	type (
		required struct {
			S  string          `validate:"required"`
			I  int             `validate:"required"`
			U  uint8           `validate:"required"`
			F  float64         `validate:"required"`
			B  bool            `validate:"required"`
			P  *int            `validate:"required"`
			L  []int           `validate:"required"`
			M  map[string]int  `validate:"required"`
			A  any             `validate:"required"`
			T  time.Time       `validate:"required"`
			St struct{ X int } `validate:"required"`
		}
		size struct {
			S   string         `validate:"min=2,max=3"`
			L   []int          `validate:"len=2"`
			M   map[string]int `validate:"gte=1,lte=1"`
			I   int64          `validate:"gt=-2,lt=2"`
			U   uint           `validate:"min=1,max=0x10"`
			F   float32        `validate:"gte=0.5,lte=1.5"`
			D   time.Duration  `validate:"gt=0,lte=30s"`
			Dn  time.Duration  `validate:"max=1000"` // nanoseconds
			Arr [2]int         `validate:"len=2"`
		}
		times struct {
			Future time.Time `validate:"gt"`
			Past   time.Time `validate:"lt"`
			GTE    time.Time `validate:"gte"`
			LTE    time.Time `validate:"lte"`
		}
		oneof struct {
			S string `validate:"oneof=low high 'very high'"`
			I int    `validate:"oneof=1 2"`
			U uint   `validate:"oneof=3"`
		}
		formats struct {
			Email     string   `validate:"email"`
			Phone     string   `validate:"e164"`
			Lang      string   `validate:"bcp47_language_tag"`
			Currency  string   `validate:"iso4217"`
			HTTP      string   `validate:"http_url"`
			URL       string   `validate:"url"`
			ID        string   `validate:"uuid"`
			IDer      stringer `validate:"uuid"`
			ASCII     string   `validate:"printascii"`
			Forbidden string   `validate:"excludesall=!0x2C"`
		}
	)
	expect(t, required{S: "a", I: -1, U: 1, F: 0.1, B: true, P: new(int), L: []int{}, M: map[string]int{},
		A: 0, T: time.Unix(0, 0), St: struct{ X int }{1}})
	expect(t, &required{}, "S required", "I required", "U required", "F required", "B required", "P required",
		"L required", "M required", "A required", "T required", "St required")

	expect(t, size{S: "ab", L: []int{1, 2}, M: map[string]int{"a": 1}, I: -1, U: 16, F: 0.5, D: 30 * time.Second, Dn: 1000, Arr: [2]int{}})
	expect(t, size{S: "日本", L: []int{1, 2}, M: map[string]int{"a": 1}, I: 1, U: 1, F: 1.5, D: 1, Dn: 0}) // strings count runes: "日本" is 2

	expect(t, size{S: "a", L: []int{1}, M: map[string]int{}, I: -2, U: 0, F: 0.4, D: 0, Dn: 1001},
		"S min=2", "L len=2", "M gte=1", "I gt=-2", "U min=1", "F gte=0.5", "D gt=0", "Dn max=1000")
	expect(t, size{S: "abcd", L: []int{1, 2, 3}, M: map[string]int{"a": 1, "b": 2}, I: 2, U: 17, F: 1.6, D: 31 * time.Second, Dn: 1},
		"S max=3", "L len=2", "M lte=1", "I lt=2", "U max=0x10", "F lte=1.5", "D lte=30s")

	now := time.Now()
	expect(t, times{Future: now.Add(time.Hour), Past: now.Add(-time.Hour), GTE: now.Add(time.Hour), LTE: now.Add(-time.Hour)})
	expect(t, times{Future: now.Add(-time.Hour), Past: now.Add(time.Hour), GTE: now.Add(-time.Hour), LTE: now.Add(time.Hour)},
		"Future gt", "Past lt", "GTE gte", "LTE lte")

	expect(t, oneof{S: "very high", I: 2, U: 3})
	expect(t, oneof{S: "high", I: 1, U: 3})
	expect(t, oneof{S: "very", I: 3, U: 0}, "S oneof=low high 'very high'", "I oneof=1 2", "U oneof=3")
	expect(t, oneof{S: "", I: 0, U: 3}, "S oneof=low high 'very high'", "I oneof=1 2")

	valid := formats{Email: "ada@example.com", Phone: "+4915112345678", Lang: "en-GB", Currency: "EUR",
		HTTP: "https://api.example.com/v1", URL: "mailto:ada@example.com", ID: "123e4567-E89B-12d3-a456-426614174000",
		IDer: stringer{"123e4567-e89b-12d3-a456-426614174000"}, ASCII: "Tok en~!", Forbidden: "fine"}
	expect(t, valid)
	expect(t, formats{}, "Email email", "Phone e164", "Lang bcp47_language_tag", "Currency iso4217",
		"HTTP http_url", "URL url", "ID uuid", "IDer uuid")
	invalid := formats{Email: "ada@", Phone: "+0151123456", Lang: "not a tag", Currency: "eur",
		HTTP: "ftp://example.com", URL: "/relative", ID: "123e4567e89b12d3a456426614174000",
		IDer: stringer{"x"}, ASCII: "tab\there", Forbidden: "a,b"}
	expect(t, invalid, "Email email", "Phone e164", "Lang bcp47_language_tag", "Currency iso4217",
		"HTTP http_url", "URL url", "ID uuid", "IDer uuid", "ASCII printascii", "Forbidden excludesall=!,")
}

func TestFormats(t *testing.T) {
	for _, tt := range []struct {
		check func(string) bool
		name  string
		good  []string
		bad   []string
	}{
		{isE164, "e164", []string{"+14155552671", "14155552671", "+123456789012345", "12345678"},
			[]string{"", "+", "+0123456789", "+1234567", "+1234567890123456", "+1 415 555 2671", "+1415555267a", "++14155552671", "١٢٣٤٥٦٧٨٩"}},
		{isUUID, "uuid", []string{"00000000-0000-0000-0000-000000000000", "A987FBC9-4BED-3078-CF07-9141BA07C9F3"},
			[]string{"", "a987fbc9-4bed-3078-cf07-9141ba07c9f", "a987fbc9-4bed-3078-cf07-9141ba07c9f3a", "a987fbc9x4bed-3078-cf07-9141ba07c9f3", "g987fbc9-4bed-3078-cf07-9141ba07c9f3"}},
		{isPrintASCII, "printascii", []string{"", " ~", "abc XYZ 123 !@#"}, []string{"\x1f", "\x7f", "é", "a\nb"}},
		{isURL, "url", []string{"http://a", "HTTPS://Example.com/x?y#z", "mailto:x@y", "file:///etc/passwd", "foo://#frag"},
			[]string{"", "example.com", "/path", "file:///", "http://", "http://[::1"}},
		{isHTTPURL, "http_url", []string{"http://localhost:4566", "HTTPS://Example.com/x", "https://127.0.0.1/"},
			[]string{"", "ftp://example.com", "mailto:x@y", "http://", "https:///path", "http:host", "//example.com"}},
		{func(s string) bool {
			return len(New(nil).Struct(struct {
				E string `validate:"email"`
			}{s})) == 0
		}, "email", []string{"a@b.co", "first.last+tag@sub.example.org", "ünï@example.com"},
			[]string{"", "a", "a@", "@b.co", "a@b", "Ada <a@b.co>", "a b@c.de", "a@b..co"}},
	} {
		for _, s := range tt.good {
			if !tt.check(s) {
				t.Errorf("%s refuses %q", tt.name, s)
			}
		}
		for _, s := range tt.bad {
			if tt.check(s) {
				t.Errorf("%s accepts %q", tt.name, s)
			}
		}
	}
}

func TestOmitemptyAndPointers(t *testing.T) {
	type opt struct {
		Name  *string `validate:"omitempty,min=1,max=3"`
		Phone *string `validate:"omitempty,e164"`
		Count int     `validate:"omitempty,gte=5"`
		Req   *int    `validate:"required"`
		Min   *int    `validate:"min=1"`
		Bare  *int
	}
	empty, long, one := "", "abcd", 1
	zero := 0
	// A nil pointer skips omitempty and fails its first other tag; a non-nil
	// pointer is dereferenced and checked, even when it points to a zero value.
	expect(t, opt{Req: &zero, Min: &one})
	expect(t, opt{}, "Req required", "Min min=1")
	expect(t, opt{Name: &empty, Phone: &empty, Count: 1, Req: &one, Min: &zero},
		"Name min=1", "Phone e164", "Count gte=5", "Min min=1")
	expect(t, opt{Name: &long, Count: 0, Req: &one, Min: &one}, "Name max=3")

	// Kind and Type: of the value behind the pointer, or of the nil pointer itself.
	f := New(nil).Struct(opt{Name: &long})
	if len(f) != 3 || f[0].Kind != reflect.String || f[0].Type != reflect.TypeFor[string]() ||
		f[1].Kind != reflect.Pointer || f[1].Type != reflect.TypeFor[*int]() {
		t.Errorf("failures = %+v", f)
	}

	// A pointer to a pointer, an interface holding a pointer.
	type deep struct {
		PP **string `validate:"required,min=2"`
		I  any      `validate:"required,min=2"`
	}
	s := "x"
	ps := &s
	expect(t, deep{PP: &ps, I: &s}, "PP min=2", "I min=2")
	var nilPS *string
	expect(t, deep{PP: &nilPS, I: (*string)(nil)}, "PP required", "I required")

	// Struct takes a pointer, a value or an interface; nil has nothing to check.
	if f := New(nil).Struct((*opt)(nil)); f != nil {
		t.Errorf("nil pointer: %v", f)
	}
	for _, v := range []any{nil, 3, "s", []opt{{}}, time.Now(), &aTime} {
		if f := New(nil).Struct(v); f != nil {
			t.Errorf("Struct(%T) = %v, want nil", v, f)
		}
	}
}

var aTime = time.Now()

type inner struct {
	Code string `json:"code" validate:"required,len=3"`
}

type Embedded struct {
	Note string `json:"note" validate:"max=2"`
}

type unexportedEmbedded struct {
	Tag string `json:"tag" validate:"oneof=a b"`
}

type outer struct {
	Name      string            `json:"name" validate:"required"`
	Inner     inner             `json:"inner"`                   // untagged: checked
	Req       inner             `json:"req" validate:"required"` // zero: fails required, not its fields
	Opt       *inner            `json:"opt,omitempty" validate:"omitempty"`
	Ptr       *inner            `json:"ptr"`
	Iface     any               `json:"iface"`
	Items     []inner           `json:"items" validate:"required,min=1,max=3,dive"`
	NoDive    []inner           `json:"noDive"` // not checked without dive
	Matrix    [][]int           `json:"matrix" validate:"dive,min=1,dive,gte=0"`
	PtrItems  []*inner          `json:"ptrItems" validate:"dive,required"`
	ByKey     map[string]inner  `json:"byKey" validate:"dive"`
	Strs      map[string]string `json:"strs" validate:"dive,min=1"`
	Skipped   inner             `json:"skipped" validate:"-"`
	hidden    inner             // unexported: never checked
	GoName    string            `validate:"required"`
	Timestamp time.Time         `json:"timestamp"` // a time is not descended into
	Embedded
	unexportedEmbedded
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch {
	case name != "" && name != "-":
		return name
	case f.Anonymous:
		return ""
	default:
		return f.Name
	}
}

func TestNestingAndPaths(t *testing.T) {
	v := outer{
		Inner:     inner{Code: "ab"},
		Opt:       &inner{},
		Ptr:       &inner{Code: "abcd"},
		Iface:     &inner{},
		Items:     []inner{{Code: "abc"}, {Code: "x"}},
		NoDive:    []inner{{}},
		Matrix:    [][]int{{1}, {}, {0, -1}},
		PtrItems:  []*inner{{Code: "abc"}, nil, {}},
		ByKey:     map[string]inner{"b": {}, "a": {Code: "a"}, "c": {Code: "abc"}},
		Strs:      map[string]string{"k": ""},
		Skipped:   inner{},
		hidden:    inner{},
		Embedded:  Embedded{Note: "abc"},
		Timestamp: time.Time{},
	}
	v.unexportedEmbedded.Tag = "c"
	want := []string{
		"name required string string",
		"inner.code len=3 string string",
		"req required struct tagcheck.inner",
		"opt.code required string string",
		"ptr.code len=3 string string",
		"iface.code required string string",
		"items[1].code len=3 string string",
		"matrix[1] min=1 slice []int",
		"matrix[2][1] gte=0 int int",
		"ptrItems[1] required ptr *tagcheck.inner",
		"ptrItems[2].code required string string",
		"byKey[a].code len=3 string string",
		"byKey[b].code required string string",
		"strs[k] min=1 string string",
		"GoName required string string",
		"note max=2 string string",
		"tag oneof=a b string string",
	}
	c := New(jsonName)
	if g := got(c, &v); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	// Again, from the type cache.
	if g := got(c, v); len(g) != len(want) {
		t.Errorf("second run: %d failures, want %d", len(g), len(want))
	}
	// Go field paths without a name function; an embedded struct is named.
	var goPaths []string
	for _, f := range New(nil).Struct(outer{Items: []inner{{}}, Inner: inner{"abc"}, Req: inner{"abc"}}) {
		goPaths = append(goPaths, f.Path)
	}
	wantGo := "Name Items[0].Code GoName unexportedEmbedded.Tag"
	if strings.Join(goPaths, " ") != wantGo {
		t.Errorf("Go paths = %q, want %q", goPaths, wantGo)
	}
	// required on a struct passes when any field is set, and its fields are then checked.
	expect(t, struct {
		In inner `validate:"required"`
	}{inner{"x"}}, "In.Code len=3")
}

func TestFailureError(t *testing.T) {
	f := Failure{Path: "a.b", Tag: "max", Param: "3"}
	if f.Error() != "a.b: failed max=3" {
		t.Errorf("Error() = %q", f.Error())
	}
	f = Failure{Path: "a", Tag: "required"}
	if f.Error() != "a: failed required" {
		t.Errorf("Error() = %q", f.Error())
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"a b  c":              "a|b|c",
		"'x y' z":             "x y|z",
		"it's":                "its",
		" debug info warn  ":  "debug|info|warn",
		"'unterminated quote": "unterminated|quote", // as the validator: no closing quote, two words
	} {
		if g := strings.Join(splitWords(in), "|"); g != want {
			t.Errorf("splitWords(%q) = %q, want %q", in, g, want)
		}
	}
}

// mustPanic runs f and returns the panic's text, failing if there was none.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("no panic")
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

// structWithTag builds a struct type with one field of type typ tagged tag, so no
// unsupported tag appears in this repository's source for TestRepositoryTags to trip on.
func structWithTag(typ reflect.Type, tag string) any {
	return reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Field", Type: typ, Tag: reflect.StructTag(`validate:"` + tag + `"`)},
	})).Interface()
}

func TestProgrammingErrorsPanic(t *testing.T) {
	str, integer, flag := reflect.TypeFor[string](), reflect.TypeFor[int](), reflect.TypeFor[bool]()
	for _, tt := range []struct {
		typ  reflect.Type
		tag  string
		want []string // in the panic text
	}{
		{str, "required,nosuch", []string{`"nosuch"`, "string"}},
		{integer, "required_if=X 1", []string{`"required_if"`, "int"}},
		{str, "email|e164", []string{"|"}},
		{str, "required,,min=1", []string{"empty tag"}},
		{integer, "min=ten", []string{"min=ten", "int"}},
		{flag, "min=1", []string{`"min"`, "bool"}},
		{reflect.TypeFor[time.Time](), "len=1", []string{`"len"`, "time.Time"}},
		{reflect.TypeFor[float64](), "oneof=1 2", []string{`"oneof"`, "float64"}},
		{str, "dive", []string{`"dive"`, "string"}},
		{integer, "bcp47_language_tag", []string{"bcp47_language_tag", "int"}},
		{integer, "url", []string{`"url"`, "int"}},
		{integer, "http_url", []string{"http_url", "int"}},
	} {
		msg := mustPanic(t, func() { New(nil).Struct(structWithTag(tt.typ, tt.tag)) })
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("tag %q on %s: panic %q does not name %q", tt.tag, tt.typ, msg, w)
			}
		}
	}
	// An unknown tag panics when the type is first checked, whatever the value.
	mustPanic(t, func() {
		New(nil).Struct(structWithTag(reflect.TypeFor[*int](), "omitempty,nosuch"))
	})
}

// The validator reads these tags through reflect.Value.String and so fails them on
// other kinds instead of panicking; so does tagcheck.
func TestStringTagsOnOtherKinds(t *testing.T) {
	for _, tag := range []string{"email", "e164", "iso4217", "printascii", "uuid"} {
		if f := New(nil).Struct(structWithTag(reflect.TypeFor[int](), tag)); len(f) != 1 {
			t.Errorf("%s on int: %v, want one failure", tag, f)
		}
	}
}

func TestSupported(t *testing.T) {
	for _, tag := range []string{"required", "omitempty", "min", "max", "len", "gt", "gte", "lt", "lte", "oneof",
		"dive", "email", "e164", "bcp47_language_tag", "iso4217", "http_url", "url", "uuid", "printascii", "excludesall"} {
		if !Supported(tag) {
			t.Errorf("%s not supported", tag)
		}
	}
	for _, tag := range []string{"", "-", "required_if", "keys", "omitnil", "Required"} {
		if Supported(tag) {
			t.Errorf("%q supported", tag)
		}
	}
}
