package httpapi

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/problem"
)

type tagged struct {
	Name     string            `json:"name" validate:"min=2"`
	Code     string            `json:"code" validate:"len=3"`
	Tags     []string          `json:"tags" validate:"max=1"`
	Level    string            `json:"level" validate:"oneof=low high"`
	Count    int               `json:"count" validate:"gt=0"`
	Ratio    float64           `json:"ratio" validate:"lte=1"`
	Currency string            `json:"currency" validate:"iso4217"`
	ID       string            `json:"id" validate:"uuid"`
	When     time.Time         `json:"when" validate:"gt"`
	Labels   map[string]string `json:"labels" validate:"gte=1"`
	Custom   string            `json:"custom" validate:"excludesall=!"`
	GoName   string            `validate:"required"`
	Embedded
}

type Embedded struct {
	Inner string `json:"inner" validate:"required"`
}

func TestValidateMessages(t *testing.T) {
	v := tagged{Name: "a", Code: "ab", Tags: []string{"x", "y"}, Level: "mid", Count: 0, Ratio: 1.5,
		Currency: "XYZ", ID: "nope", When: time.Now().Add(-time.Hour), Custom: "hi!"}
	e := asHTTPError(t, Validate(&v), http.StatusBadRequest)
	assertFields(t, e.Fields, []problem.FieldError{
		{Field: "name", Message: "must be at least 2 characters long"},
		{Field: "code", Message: "must be exactly 3 characters long"},
		{Field: "tags", Message: "must contain at most 1 item"},
		{Field: "level", Message: "must be one of: low, high"},
		{Field: "count", Message: "must be greater than 0"},
		{Field: "ratio", Message: "must be at most 1"},
		{Field: "currency", Message: "must be an ISO 4217 currency code"},
		{Field: "id", Message: "must be a valid UUID"},
		{Field: "when", Message: "must be in the future"},
		{Field: "labels", Message: "must contain at least 1 item"},
		{Field: "custom", Message: "must satisfy excludesall=!"},
		{Field: "GoName", Message: "is required"},
		{Field: "inner", Message: "is required"},
	})
}

// selfValidating reports a field of its own through an *Error.
type selfValidating struct {
	From int `json:"from"`
	To   int `json:"to"`
}

func (s selfValidating) Validate() error {
	if s.From > s.To {
		return &Error{Status: http.StatusBadRequest, Fields: []problem.FieldError{{Field: "to", Message: "must not be before from"}}}
	}
	return nil
}

type node struct {
	Name string `json:"name"`
	Next *node  `json:"next"`
}

type withHidden struct {
	hidden amount // unexported: neither JSON nor Validate can reach it
	Shown  amount `json:"shown"`
	Skip   amount `json:"-"`
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		v          any
		wantFields []problem.FieldError // nil: valid
	}{
		{name: "nil", v: nil},
		{name: "nil pointer", v: (*orderRequest)(nil)},
		{name: "valid", v: &orderRequest{Name: "Ada", Price: amount{1, "EUR"}}},
		{name: "valid value, not pointer", v: orderRequest{Name: "Ada", Price: amount{1, "EUR"}}},
		{name: "a time is not a struct to validate", v: time.Now()},
		{
			name:       "top-level slice",
			v:          []amount{{1, "EUR"}, {-1, "EUR"}, {1, "eur"}},
			wantFields: []problem.FieldError{{Field: "[1].amount", Message: "must be at least 0"}, {Field: "[2]", Message: "currency codes are upper-case"}},
		},
		{
			name:       "map values in key order",
			v:          map[string]amount{"b": {1, "usd"}, "a": {1, ""}},
			wantFields: []problem.FieldError{{Field: "[a].currency", Message: "is required"}, {Field: "[b]", Message: "currency codes are upper-case"}},
		},
		{
			name: "Validate returning field errors",
			v: struct {
				Range selfValidating `json:"range"`
			}{selfValidating{From: 2, To: 1}},
			wantFields: []problem.FieldError{{Field: "range.to", Message: "must not be before from"}},
		},
		{
			name:       "unexported and json:\"-\" fields are not walked",
			v:          &withHidden{hidden: amount{1, "eur"}, Shown: amount{1, "gbp"}, Skip: amount{1, "usd"}},
			wantFields: []problem.FieldError{{Field: "shown", Message: "currency codes are upper-case"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.v)
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			e := asHTTPError(t, err, http.StatusBadRequest)
			assertFields(t, e.Fields, tt.wantFields)
		})
	}
}

// The validator itself recurses forever on a cyclic value (JSON cannot produce one),
// but the method walk must not add a second way to hang.
func TestMethodWalkEndsOnCycles(t *testing.T) {
	cyclic := &node{Name: "a"}
	cyclic.Next = &node{Name: "b", Next: cyclic}
	w := methodWalker{visited: map[visit]bool{}}
	w.walk(reflect.ValueOf(cyclic), "", 0)
	if len(w.fields) != 0 {
		t.Errorf("fields = %v", w.fields)
	}
	if len(w.visited) != 2 {
		t.Errorf("visited %d pointers, want 2", len(w.visited))
	}
}
