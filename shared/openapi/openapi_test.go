package openapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shop-serverless/shop/shared/money"
)

type tagged struct {
	Name     string      `json:"name" validate:"required,min=2,max=5"`
	Count    int64       `json:"count" validate:"gte=1,lte=9"`
	Delta    int64       `json:"delta" validate:"required,gt=-3,lt=3"`
	Kind     string      `json:"kind" validate:"oneof=a 'b c'"`
	Email    *string     `json:"email,omitempty" validate:"omitempty,email"`
	Tags     []string    `json:"tags" validate:"max=3,dive,uuid"`
	Price    money.Money `json:"price"`
	Note     string      `json:"note"`
	Internal string      `json:"-"`
}

// Each validate tag becomes its JSON Schema keyword on the property of
// the field's JSON name; a request requires exactly the fields whose zero
// value fails the tags (as the decoder leaves an absent one), a response
// every field without omitempty.
func TestValidateTagsBecomeKeywords(t *testing.T) {
	s, err := Schema(reflect.TypeFor[tagged](), true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Properties map[string]map[string]any `json:"properties"`
		Required   []string                  `json:"required"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Properties
	for _, c := range []struct {
		prop, keyword string
		want          any
	}{
		{"name", "minLength", 2.0}, {"name", "maxLength", 5.0},
		{"count", "minimum", 1.0}, {"count", "maximum", 9.0},
		{"delta", "exclusiveMinimum", -3.0}, {"delta", "exclusiveMaximum", 3.0},
		{"email", "format", "email"},
		{"tags", "maxItems", 3.0},
	} {
		if v := p[c.prop][c.keyword]; v != c.want {
			t.Errorf("%s.%s = %v, want %v", c.prop, c.keyword, v, c.want)
		}
	}
	if not, _ := p["delta"]["not"].(map[string]any); not["const"] != 0.0 {
		t.Errorf("delta: required on a number must refuse 0: %v", p["delta"])
	}
	if e := p["kind"]["enum"]; !reflect.DeepEqual(e, []any{"a", "b c"}) {
		t.Errorf("kind enum %v", e)
	}
	if items, _ := p["tags"]["items"].(map[string]any); items["format"] != "uuid" {
		t.Errorf("dive: the items' format %v", p["tags"]["items"])
	}
	if cur, _ := p["price"]["properties"].(map[string]any)["currency"].(map[string]any); len(cur["enum"].([]any)) != len(money.Currencies()) {
		t.Errorf("a request's currency is one shared/money knows: %v", cur)
	}
	if _, ok := p["Internal"]; ok || p["note"] == nil {
		t.Errorf("json names: %v", p)
	}
	// name: required; count: gte=1 fails 0; delta: required; kind: "" is not
	// one of; price: its currency is required. Not email (omitempty), tags
	// (a nil slice passes max and dive), note (no tag).
	if want := []string{"name", "count", "delta", "kind", "price"}; !reflect.DeepEqual(got.Required, want) {
		t.Errorf("required %v, want %v", got.Required, want)
	}

	resp, err := Schema(reflect.TypeFor[tagged](), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"name", "count", "delta", "kind", "tags", "price", "note"}; !reflect.DeepEqual(resp.Required, want) || resp.Properties["name"].MinLength != nil {
		t.Errorf("a response: required %v (want %v), constraints %v", resp.Required, want, resp.Properties["name"])
	}
}

func TestUnknownTagIsAnError(t *testing.T) {
	// Built at run time: shared/tagcheck's TestRepositoryTags refuses an
	// unknown tag written in the source.
	bad := reflect.StructOf([]reflect.StructField{{
		Name: "X", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"x" validate:"starts` + `with=a"`),
	}})
	if _, err := Schema(bad, true); err == nil {
		t.Fatal("an unknown validate tag must fail the build")
	}
}
