package catalog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/testenv"
)

func TestEveryExampleValidates(t *testing.T) {
	types := catalog.Types()
	if len(types) < 11 {
		t.Fatalf("catalog has %d types, want at least the 11 the design names: %v", len(types), types)
	}
	for _, typ := range types {
		ex, err := catalog.Example(typ)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if err := catalog.Validate(typ, ex); err != nil {
			t.Errorf("%s: example: %v", typ, err)
		}
		if err := catalog.ValidateEvent(ex); err != nil {
			t.Errorf("%s: example by its own type: %v", typ, err)
		}
	}
}

// Validate stops at the first failure and locates it in the schema; the
// location shows that a reference into the envelope by its URN
// (urn:shop:event:cloudevent#/$defs/...) resolved.
func TestValidateSaysWhereInTheSchema(t *testing.T) {
	ex, err := catalog.Example("shop.order.created.v1")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(ex, &e); err != nil {
		t.Fatal(err)
	}
	item := e["data"].(map[string]any)["items"].([]any)[0].(map[string]any)
	item["unitPrice"] = map[string]any{"amount": 1250, "currency": "euro"}
	bad, _ := json.Marshal(e)

	err = catalog.Validate("shop.order.created.v1", bad)
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || len(ve.Causes) != 1 {
		t.Fatalf("Validate = %v, want a *ValidationError with one cause", err)
	}
	if c := ve.Causes[0]; c.Path != "" || !strings.Contains(c.Message, "/$defs/currency") || !strings.Contains(c.Message, `"euro"`) {
		t.Errorf("cause %+v, want the whole event, the envelope's currency and the value", c)
	}
}

func TestValidateRejectsAnotherTypesEvent(t *testing.T) {
	ex, _ := catalog.Example("shop.order.confirmed.v1")
	if err := catalog.Validate("shop.order.created.v1", ex); err == nil {
		t.Fatal("an order.confirmed event validated as order.created")
	}
	if err := catalog.Validate("shop.nothing.happened.v1", ex); !errors.Is(err, catalog.ErrUnknownType) {
		t.Fatalf("unknown type: %v, want ErrUnknownType", err)
	}
	if err := catalog.ValidateEvent([]byte(`{"type":"shop.order.created.v1"`)); err == nil {
		t.Fatal("truncated JSON validated")
	}
}

// The envelope's time is a pattern, not only format: date-time (format is
// an annotation in 2020-12, which the runtime's validator does not assert).
// It takes what consumers can read, which is what time.Parse takes in
// RFC 3339 (the CloudEvents SDK decodes time with it), and what RFC 3339
// allows: a real calendar date, an upper-case T and Z, no leap second (Go
// cannot read one), two-digit hours and an offset under 24 hours (Go would
// take fewer and more).
func TestTimePatternIsWhatConsumersRead(t *testing.T) {
	raw, err := os.ReadFile("cloudevent.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		Properties struct {
			Time struct {
				Format  string `json:"format"`
				Pattern string `json:"pattern"`
			} `json:"time"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatal(err)
	}
	if envelope.Properties.Time.Format != "date-time" {
		t.Errorf("time keeps format date-time as an annotation; it has %q", envelope.Properties.Time.Format)
	}
	pattern := regexp.MustCompile(envelope.Properties.Time.Pattern)
	check := func(s string) {
		t.Helper()
		_, err := time.Parse(time.RFC3339Nano, s)
		if got, want := pattern.MatchString(s), err == nil; got != want {
			t.Errorf("pattern matches %q: %v; time.Parse takes it: %v (%v)", s, got, want, err)
		}
	}
	// Every day of every month, in common, leap and century years.
	for _, year := range []int{0, 1, 1900, 1999, 2000, 2023, 2024, 2026, 2100, 2400, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				check(fmt.Sprintf("%04d-%02d-%02dT10:00:00Z", year, month, day))
			}
		}
	}
	for _, s := range []string{
		"2026-12-01T00:00:00Z", "2026-12-01T23:59:59Z", "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z",
		"2026-12-01T23:59:60Z", // a leap second: RFC 3339 has them, Go does not
		"2026-12-01T10:00:00.5Z", "2026-12-01T10:00:00.123456789Z", "2026-12-01T10:00:00.1234567891234Z",
		"2026-12-01T10:00:00.Z", "2026-12-01T10:00:00+01:00", "2026-12-01T10:00:00-23:59",
		"2026-12-01T10:00:00+0100", "2026-12-01T10:00:00", "2026-12-01t10:00:00Z", "2026-12-01T10:00:00z",
		"2026-12-01 10:00:00Z", "2026-12-1T10:00:00Z", "26-12-01T10:00:00Z", "+2026-12-01T10:00:00Z",
		"2026-12-01T10:00Z", "2026-12-01", "yesterday", "", " 2026-12-01T10:00:00Z",
		"2026-12-01T10:00:00Z\n", "２０２６-12-01T10:00:00Z",
	} {
		check(s)
	}
	// What Go takes but RFC 3339 does not.
	for _, s := range []string{"2026-12-01T10:00:00+24:00", "2026-12-01T10:00:00-24:00", "2026-12-01T1:00:00Z"} {
		if pattern.MatchString(s) {
			t.Errorf("pattern matches %q, which is not RFC 3339", s)
		}
	}
}

// Every function that handles events links the catalog: it must not link
// a validator that compiles metaschemas in its package init.
func TestLinksNoMetaschemaCompiler(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/events", "github.com/santhosh-tekuri/jsonschema")
}

// Validate hands google's validator each number as a float64 that decides
// like the exact number (decisive) as long as the schemas ask only whether
// a number is an integer and how it compares with integer bounds under
// 2^52. This holds them to that, and keeps every bound beside
// "type": "integer" (santhosh's validator, in tests and ingest, panics
// comparing a number math/big cannot read with a bound, unless the type
// check has already refused it).
func TestNumbersAreIntegersWithIntegerBounds(t *testing.T) {
	docs := map[string][]byte{"cloudevent": catalog.Envelope()}
	for _, typ := range catalog.Types() {
		raw, err := catalog.Schema(typ)
		if err != nil {
			t.Fatal(err)
		}
		docs[typ] = raw
	}
	for name, raw := range docs {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case []any:
				for i, e := range v {
					walk(fmt.Sprintf("%s/%d", path, i), e)
				}
			case map[string]any:
				for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
					b, ok := v[k]
					if !ok {
						continue
					}
					f, isNum := b.(float64)
					if !isNum || f != math.Trunc(f) || math.Abs(f) >= 1<<52 {
						t.Errorf("%s%s: %s %v: bounds are integers under 2^52", name, path, k, b)
					}
					if v["type"] != "integer" {
						t.Errorf("%s%s: %s beside type %v: bounds go with type integer", name, path, k, v["type"])
					}
				}
				if v["type"] == "number" {
					t.Errorf(`%s%s: type "number": the catalog's numbers are integers`, name, path)
				}
				if _, ok := v["multipleOf"]; ok {
					t.Errorf("%s%s: multipleOf", name, path)
				}
				for _, k := range []string{"const", "enum"} {
					vals, _ := v[k].([]any)
					if k == "const" {
						vals = []any{v[k]}
					}
					for _, c := range vals {
						if _, isNum := c.(float64); isNum {
							t.Errorf("%s%s: %s holds the number %v", name, path, k, c)
						}
					}
				}
				for k, e := range v {
					walk(path+"/"+k, e)
				}
			}
		}
		walk("", doc)
	}
}
