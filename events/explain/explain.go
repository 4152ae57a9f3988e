// Package explain checks events against the catalog (package catalog,
// events/) and names every place an event fails, as a JSON pointer into
// it: what the ingest endpoint answers its senders, and the check tests
// make of examples and captured events.
//
//	err := explain.Validate("shop.order.created.v1", structuredJSON)
//	// nil, catalog.ErrUnknownType, or a *catalog.ValidationError with every failing place
//
// It decides as catalog.Validate does (its tests hold the two to it), with
// the validator the catalog was written against,
// github.com/santhosh-tekuri/jsonschema/v6, which reports every failure
// with its instance location; catalog.Validate's stops at the first and
// locates it in the schema only. That library compiles five drafts'
// metaschemas in its package init: 3 to 4 ms and 1.7 MB of allocations on
// every cold start of a binary that links this package (GODEBUG=inittrace=1),
// more than a function's budget over a hello-world. So only platform-ingest
// links it; consumers and relays check with catalog.Validate.
//
// format is not asserted (AssertFormat is off): in 2020-12 it is an
// annotation, catalog.Validate's validator ignores it, and the catalog
// says what it requires with patterns.
package explain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	catalog "github.com/shop-serverless/shop/events"
)

var printer = message.NewPrinter(language.English)

// Validate checks a structured CloudEvent (JSON) against the schema of
// eventType: catalog.ErrUnknownType, a *catalog.ValidationError with one
// Cause per failing place, or nil.
func Validate(eventType string, event []byte) error {
	sch, err := compiled(eventType)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return &catalog.ValidationError{Type: eventType, Causes: []catalog.Cause{{Path: "", Message: "not JSON: " + err.Error()}}}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("explain: validate %s: %w", eventType, err)
		}
		return &catalog.ValidationError{Type: eventType, Causes: causes(ve)}
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
		return &catalog.ValidationError{Causes: []catalog.Cause{{Path: "", Message: "not a JSON object: " + err.Error()}}}
	}
	return Validate(head.Type, event)
}

// causes flattens a validation error into its leaves: the places that fail.
func causes(ve *jsonschema.ValidationError) []catalog.Cause {
	var out []catalog.Cause
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, catalog.Cause{Path: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortFunc(out, func(a, b catalog.Cause) int { return strings.Compare(a.Path+a.Message, b.Path+b.Message) })
	return slices.Compact(out)
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

var (
	mu      sync.Mutex
	schemas = map[string]*jsonschema.Schema{}
)

// compiled returns the compiled schema of eventType, compiling it (and the
// envelope) on first use.
func compiled(eventType string) (*jsonschema.Schema, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := schemas[eventType]; ok {
		return s, nil
	}
	raw, err := catalog.Schema(eventType)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	for uri, raw := range map[string][]byte{catalog.EnvelopeURI: catalog.Envelope(), catalog.SchemaURI(eventType): raw} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("explain: %s: %w", uri, err)
		}
		if err := c.AddResource(uri, doc); err != nil {
			return nil, fmt.Errorf("explain: %s: %w", uri, err)
		}
	}
	s, err := c.Compile(catalog.SchemaURI(eventType))
	if err != nil {
		return nil, fmt.Errorf("explain: compile %s: %w", eventType, err)
	}
	schemas[eventType] = s
	return s, nil
}
