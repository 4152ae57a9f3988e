// Package inbound is an event as a service's handler receives it from
// package consumer: checked against its schema in the catalog, and without
// the CloudEvents SDK. A service package holds its HTTP handlers beside its
// event handlers, and its HTTP functions link everything it imports; the
// SDK (with json-iterator and zap) would cost each of them its package
// inits at every cold start. A consumer's main adapts the handler:
//
//	consumer.Start(scope, func(d consumer.Deps) (consumer.Handler, error) {
//		return consumer.Inbound(notifications.Notify(st)), nil // Notify: func(context.Context, inbound.Event) error
//	})
package inbound

import (
	"encoding/json"
	"errors"
	"time"
)

// Event is a structured CloudEvent that matched its type's schema.
type Event struct {
	ID      string
	Source  string
	Type    string
	Subject string
	Time    time.Time
	// Data is the event's data: JSON, as the type's schema describes it.
	Data []byte
}

// DataAs decodes the event's data into v.
func (e Event) DataAs(v any) error { return json.Unmarshal(e.Data, v) }

// PermanentError is a failure no redelivery can cure. Package consumer
// sends such an event on to the dead-letter queue at once (Lambda) or
// refuses it with a 4xx that the broker does not retry (Knative).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as one no redelivery can cure (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports an error marked with Permanent anywhere in its chain.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
