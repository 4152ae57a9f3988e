package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
)

// Validate checks a structured CloudEvent (JSON) against the schema of
// eventType: ErrUnknownType, a *ValidationError, or nil. The event's own
// type attribute must be eventType (the schema says so).
//
// A *ValidationError from Validate has one Cause, the first failure met,
// at the whole event (""): google/jsonschema-go stops there, and its error
// names where in the schema it failed ("validating /properties/data:
// validating /properties/data/properties/items/items: ... minimum: ..."),
// not where in the event (it does not say which item of an array). Use
// explain.Validate for every failing place as a JSON pointer.
func Validate(eventType string, event []byte) error {
	rs, err := resolved(eventType)
	if err != nil {
		return err
	}
	doc, err := instance(event)
	if err != nil {
		return &ValidationError{Type: eventType, Causes: []Cause{{Path: "", Message: "not JSON: " + err.Error()}}}
	}
	if err := rs.Validate(doc); err != nil {
		return &ValidationError{Type: eventType, Causes: []Cause{{Path: "", Message: err.Error()}}}
	}
	return nil
}

// ValidateEvent validates a structured CloudEvent against the schema of the
// type it names.
func ValidateEvent(event []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(event, &head); err != nil {
		return &ValidationError{Causes: []Cause{{Path: "", Message: "not a JSON object: " + err.Error()}}}
	}
	return Validate(head.Type, event)
}

var (
	mu       sync.Mutex
	resolves = map[string]*jsonschema.Resolved{}
)

// resolved returns the resolved schema of eventType, resolving it (and the
// envelope it refers to) on first use.
func resolved(eventType string) (*jsonschema.Resolved, error) {
	mu.Lock()
	defer mu.Unlock()
	if rs, ok := resolves[eventType]; ok {
		return rs, nil
	}
	raw, err := Schema(eventType)
	if err != nil {
		return nil, err
	}
	root, err := parseSchema(eventType, raw)
	if err != nil {
		return nil, err
	}
	rs, err := root.Resolve(&jsonschema.ResolveOptions{
		BaseURI: SchemaURI(eventType),
		// The only document a type's schema refers to is the envelope, by
		// its URN (urn:shop:event:cloudevent, and #/$defs/... in it).
		Loader: func(uri *url.URL) (*jsonschema.Schema, error) {
			if uri.String() != EnvelopeURI {
				return nil, fmt.Errorf("catalog: %s refers to %s, which the catalog does not have", eventType, uri)
			}
			return parseSchema(envelopeName, Envelope())
		},
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: resolve %s: %w", eventType, err)
	}
	resolves[eventType] = rs
	return rs, nil
}

func parseSchema(name string, raw []byte) (*jsonschema.Schema, error) {
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("catalog: %s%s: %w", name, schemaSuffix, err)
	}
	return &s, nil
}

// instance decodes an event for the validator: as santhosh-tekuri's
// decodes it (one JSON value and nothing after it, numbers exact), then
// each number as the float64 that decides like it (decisive), since
// google's validator takes numbers as Go numbers, not as json.Number.
func instance(event []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return floats(doc), nil
}

// floats replaces every json.Number in v with its decisive float64.
func floats(v any) any {
	switch v := v.(type) {
	case json.Number:
		return decisive(v)
	case map[string]any:
		for k, e := range v {
			v[k] = floats(e)
		}
	case []any:
		for i, e := range v {
			v[i] = floats(e)
		}
	}
	return v
}

// fractional bounds the float64s with a fraction: from 2^52 up, every
// float64 is an integer.
const fractional = 1 << 52

// decisive returns a float64 for the JSON number n that the catalog's
// schemas decide on as on n's exact value, which is what JSON Schema asks
// and santhosh-tekuri's validator does (math/big). Rounding n to the
// nearest float64 is not enough: it can make an integer of what is none
// (1.00000000000000001 becomes 1, which "type": "integer" and "minimum": 1
// then pass) and infinity of a large integer (1e400, which "integer" then
// fails). The schemas ask two things of a number (a test holds them to
// it): whether it is an integer, and how it compares with integer bounds
// under 2^52. decisive keeps both: an integer stays an integer (clamped
// to the largest float64 rather than infinity), and a number that is
// none becomes the nearest float64 that is none, with no integer between
// it and n.
func decisive(n json.Number) float64 {
	s := n.String()
	r, ok := new(big.Rat).SetString(s)
	if ok && r.IsInt() {
		f, _ := r.Float64()
		if math.IsInf(f, 0) {
			return math.Copysign(math.MaxFloat64, f)
		}
		return f
	}
	// Not an integer; or, with an exponent over a million, a number
	// math/big refuses, which santhosh's validator then counts as none.
	var f float64
	if ok {
		f, _ = r.Float64()
	} else {
		f, _ = strconv.ParseFloat(s, 64) // ±Inf or ±0 out of range
	}
	if _, frac := math.Modf(f); frac != 0 && !math.IsInf(f, 0) {
		return f
	}
	if math.Abs(f) >= fractional {
		// No float64 this large has a fraction: the largest that has one
		// is still past every bound the catalog uses, as n is.
		return math.Copysign(fractional-0.5, f)
	}
	// Rounding made an integer of n: step to the next float64 on n's side.
	up := !strings.HasPrefix(s, "-")
	if ok {
		up = r.Cmp(new(big.Rat).SetFloat64(f)) > 0
	}
	if up {
		return math.Nextafter(f, math.Inf(1))
	}
	return math.Nextafter(f, math.Inf(-1))
}
