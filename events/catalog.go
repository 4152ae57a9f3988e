// Package catalog is the shop's event catalog: one JSON Schema (2020-12)
// per event type, with an example, in this folder (events/). Producers
// check every event against it before it is written to an outbox or put on
// the bus, the ingest endpoint checks what outside systems send, and
// consumers check what they receive (an event put on the bus by anyone with
// IAM rights has been checked by nobody).
//
//	if err := catalog.Validate("shop.order.created.v1", structuredJSON); err != nil { ... }
//
// A schema is compiled the first time its type is validated, not at
// start: a function pays only for the types it touches, and only when it
// touches them (the cold-start budget).
package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

//go:embed *.schema.json *.example.json
var files embed.FS

const (
	schemaSuffix  = ".schema.json"
	exampleSuffix = ".example.json"
	envelopeName  = "cloudevent"
)

// SchemaURI is the $id of a type's schema: what its events carry as
// dataschema.
func SchemaURI(eventType string) string { return "urn:shop:event:" + eventType }

// ErrUnknownType is an event type the catalog has no schema for.
var ErrUnknownType = errors.New("catalog: unknown event type")

// ValidationError says where an event breaks its type's schema: one entry
// per failing place, as a JSON pointer into the event and what is wrong
// there ("/data/quantity: minimum: got 0, want 1").
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
		parts[i] = c.Path + ": " + c.Message
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

// Example returns the example event of eventType: a structured CloudEvent.
func Example(eventType string) ([]byte, error) {
	if !Known(eventType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, eventType)
	}
	return files.ReadFile(eventType + exampleSuffix)
}

// Validate checks a structured CloudEvent (JSON) against the schema of
// eventType: ErrUnknownType, a *ValidationError, or nil. The event's own
// type attribute must be eventType (the schema says so).
func Validate(eventType string, event []byte) error {
	sch, err := compiled(eventType)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return &ValidationError{Type: eventType, Causes: []Cause{{Path: "", Message: "not JSON: " + err.Error()}}}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Errorf("catalog: validate %s: %w", eventType, err)
		}
		return &ValidationError{Type: eventType, Causes: causes(ve)}
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

// causes flattens a validation error into its leaves: the places that fail.
func causes(ve *jsonschema.ValidationError) []Cause {
	var out []Cause
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Cause{Path: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortFunc(out, func(a, b Cause) int { return strings.Compare(a.Path+a.Message, b.Path+b.Message) })
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
	if !Known(eventType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, eventType)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{envelopeName, eventType} {
		raw, err := files.ReadFile(name + schemaSuffix)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("catalog: %s%s: %w", name, schemaSuffix, err)
		}
		if err := c.AddResource(SchemaURI(name), doc); err != nil {
			return nil, fmt.Errorf("catalog: %s%s: %w", name, schemaSuffix, err)
		}
	}
	s, err := c.Compile(SchemaURI(eventType))
	if err != nil {
		return nil, fmt.Errorf("catalog: compile %s: %w", eventType, err)
	}
	schemas[eventType] = s
	return s, nil
}
