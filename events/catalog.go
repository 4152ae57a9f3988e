// Package catalog is the shop's event catalog: one JSON Schema (2020-12)
// per event type, with an example, in this folder (events/). Producers
// check every event against it before it is written to an outbox or put on
// the bus, the ingest endpoint checks what outside systems send, and
// consumers check what they receive (an event put on the bus by anyone with
// IAM rights has been checked by nobody).
//
//	if err := catalog.Validate("shop.order.created.v1", structuredJSON); err != nil { ... }
//
// Validate is the check functions run, and is made for their cold start:
// it uses github.com/google/jsonschema-go, whose package init costs about
// 0.1 ms, and a schema is resolved the first time its type is validated,
// so a function pays only for the types it touches, when it touches them.
// It reports the first failure it meets, located in the schema: that
// library says neither where in the event a failure is nor whether there
// are more. Package explain (events/explain) decides the same with
// github.com/santhosh-tekuri/jsonschema/v6 and names every failing place
// as a JSON pointer into the event; the ingest endpoint, which owes its
// senders that list, and tests use it. That library compiles five drafts'
// metaschemas in its package init (3 to 4 ms and 1.7 MB of allocations on
// every cold start, measured with GODEBUG=inittrace=1), which is why it is
// not here.
//
// Both decide alike on the catalog's schemas (explain's tests hold them to
// it) because the schemas keep to what both implement the same way: no
// format assertion (an annotation in 2020-12, which google's does not
// assert: the envelope's time is a pattern), and numbers only as integers
// with integer bounds (see decisive).
package catalog

import (
	"embed"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

//go:embed *.schema.json *.example.json
var files embed.FS

const (
	schemaSuffix  = ".schema.json"
	exampleSuffix = ".example.json"
	envelopeName  = "cloudevent"
	uriPrefix     = "urn:shop:event:"
)

// SchemaURI is the $id of a type's schema: what its events carry as
// dataschema.
func SchemaURI(eventType string) string { return uriPrefix + eventType }

// EnvelopeURI is the $id of the envelope's schema, which every type's
// schema refers to (allOf, and its $defs by JSON pointer).
const EnvelopeURI = uriPrefix + envelopeName

// ErrUnknownType is an event type the catalog has no schema for.
var ErrUnknownType = errors.New("catalog: unknown event type")

// ValidationError says where an event breaks its type's schema: one entry
// per failing place reported, as a JSON pointer into the event and what is
// wrong there ("/data/quantity: minimum: got 0, want 1"). Validate reports
// the first failure it meets, at the whole event ("") with the schema
// location in its message; explain.Validate reports every failing place at
// its pointer.
type ValidationError struct {
	Type   string
	Causes []Cause
}

// Cause is one place an event breaks its schema.
type Cause struct {
	Path    string `json:"path"` // JSON pointer into the event; "" is the whole event
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Causes))
	for i, c := range e.Causes {
		parts[i] = c.Message
		if c.Path != "" {
			parts[i] = c.Path + ": " + c.Message
		}
	}
	return fmt.Sprintf("catalog: event of type %s does not match its schema: %s", e.Type, strings.Join(parts, "; "))
}

// Types returns every event type of the catalog, sorted.
func Types() []string {
	entries, err := files.ReadDir(".")
	if err != nil {
		panic(err) // an embedded directory always reads
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if t, ok := strings.CutSuffix(name, schemaSuffix); ok && t != envelopeName {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Known reports whether the catalog has eventType.
func Known(eventType string) bool {
	_, ok := slices.BinarySearch(Types(), eventType)
	return ok
}

// Schema returns the schema document of eventType.
func Schema(eventType string) ([]byte, error) {
	if !Known(eventType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, eventType)
	}
	return files.ReadFile(eventType + schemaSuffix)
}

// Envelope returns the envelope's schema document (EnvelopeURI).
func Envelope() []byte {
	raw, err := files.ReadFile(envelopeName + schemaSuffix)
	if err != nil {
		panic(err) // embedded above
	}
	return raw
}

// Example returns the example event of eventType: a structured CloudEvent.
func Example(eventType string) ([]byte, error) {
	if !Known(eventType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, eventType)
	}
	return files.ReadFile(eventType + exampleSuffix)
}
