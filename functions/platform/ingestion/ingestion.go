// Package ingestion is how other systems put events on the shop's bus: the
// handler of platform-ingest (POST /v1/events). It is a package of its own,
// not part of package platform, because the authorizer links that one, and
// must not pay for the CloudEvents SDK and the schema catalog at its cold
// start.
//
// A request carries CloudEvents in any of the HTTP binding's three modes:
// binary (the data as the body, attributes in ce-* headers), structured
// (application/cloudevents+json) or batch (application/cloudevents-batch+json,
// at most MaxBatch). The caller's token needs the scope events:publish
// (the route's auth) and its subject must be registered, in the function's
// manifest, for each event's source and type (Registration). Every event
// must match its type's schema in the catalog and fit in an EventBridge
// entry (MaxEntryBytes). An event without a traceparent is given the
// caller's trace (this request's span), so its consumers continue it. A
// request is taken whole or not at all:
//
//	202 {"ids": [...]}   every event is on the bus
//	400                  not CloudEvents, an empty or too large batch, a type the
//	                     catalog does not know, or events against their schema
//	                     (errors: one per failing place, as a JSON pointer into
//	                     the body: "/data/quantity", in a batch "/2/data/quantity")
//	403                  a source or type not registered for the caller
//	413                  an event larger than an entry, or a body larger than a batch
//	503                  the bus did not take them all: send the request again
//	                     (consumers deduplicate on source and id)
//
// The schema check that lists every failing place is package explain's:
// catalog.Validate, which consumers and relays use, stops at the first and
// cannot say where in the event it is. explain's library costs this
// function 3 to 4 ms of package init on every cold start (see explain).
package ingestion

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Limits of one request.
const (
	// MaxEntryBytes is EventBridge's limit on one entry, counted as it
	// counts it: the detail (the structured event) plus its source and
	// detail type.
	MaxEntryBytes = 256 * 1024
	// MaxBatch is how many events a batch may hold: one PutEvents call.
	MaxBatch = 10
	// maxBodyBytes bounds what is read: a full batch of full events, and
	// room for the array and white space around them.
	maxBodyBytes = MaxBatch*MaxEntryBytes + 64*1024
)

// Media types of the structured and batch modes.
const (
	MediaStructured = "application/cloudevents+json"
	MediaBatch      = "application/cloudevents-batch+json"
)

// Publisher puts events on the bus (eventbus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...event.Event) error
}

// Registration is an outside system allowed to publish: a token whose
// subject is Subject may send events with source Source, of Types only. It
// is manifest.IngestPublisher, as SHOP_INGEST_PUBLISHERS holds it (read
// here without the manifest package, whose YAML parser the function would
// otherwise link).
type Registration struct {
	Subject string   `json:"subject"`
	Source  string   `json:"source"`
	Types   []string `json:"types"`
}

// EnvRegistrations is the variable holding the registrations as JSON
// (manifest.EnvIngestPublishers).
const EnvRegistrations = "SHOP_INGEST_PUBLISHERS"

// ParseRegistrations reads the registrations from their JSON. No
// registration at all is an error: the endpoint would refuse everything.
func ParseRegistrations(s string) ([]Registration, error) {
	var regs []Registration
	if err := json.Unmarshal([]byte(s), &regs); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvRegistrations, err)
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("%s: no publisher is registered", EnvRegistrations)
	}
	for i, r := range regs {
		if r.Subject == "" || r.Source == "" || len(r.Types) == 0 {
			return nil, fmt.Errorf("%s: entry %d needs a subject, a source and types", EnvRegistrations, i)
		}
	}
	return regs, nil
}

// Response is the body of a 202.
type Response struct {
	IDs []string `json:"ids"`
}

// Handler serves POST /v1/events, putting what it accepts on the bus
// through pub. The route's auth (scope:events:publish) has verified the
// caller before it runs.
func Handler(pub Publisher, regs []Registration) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := principal.FromContext(r.Context())
		if !ok {
			return httpapi.Errorf(http.StatusUnauthorized, "send a bearer token in the Authorization header")
		}
		mine := slices.DeleteFunc(slices.Clone(regs), func(reg Registration) bool { return reg.Subject != p.Subject })
		if len(mine) == 0 {
			return httpapi.Errorf(http.StatusForbidden, "no event source is registered for %q", p.Subject)
		}
		raws, batch, err := readEvents(r)
		if err != nil {
			return err
		}
		events, err := check(raws, batch, mine)
		if err != nil {
			return err
		}
		carryTrace(r.Context(), events)
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = e.ID()
		}
		if err := pub.Publish(r.Context(), events...); err != nil {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": []string{"1"}}, Err: err,
				Detail: "the bus did not take every event; send the same request again (events are deduplicated on source and id)"}
		}
		metrics.Count(metrics.EventsPublished, float64(len(events)))
		log.FromContext(r.Context()).InfoContext(r.Context(), "ingest: events published", "publisher", p.Subject, "ids", ids)
		httpapi.WriteJSON(w, http.StatusAccepted, Response{IDs: ids})
		return nil
	})
}

// extTraceParent is the CloudEvents distributed-tracing extension
// (envelope.ExtTraceParent).
const extTraceParent = "traceparent"

// carryTrace gives every event that carries no trace the caller's: the
// span of this request (which continues the caller's X-Amzn-Trace-Id),
// as its traceparent, so that its consumers continue that trace (and on
// AWS its entry's TraceHeader names it: eventbus' Publish). An event with
// a traceparent of its own keeps it: the extension names the trace of the
// event's producer, which a hop does not change. One the extension would
// take past an entry's limit goes without.
func carryTrace(ctx context.Context, events []event.Event) {
	tp := tracing.TraceParent(ctx)
	if tp == "" {
		return
	}
	for i := range events {
		if _, ok := events[i].Extensions()[extTraceParent]; ok {
			continue
		}
		events[i].SetExtension(extTraceParent, tp)
		if raw, err := json.Marshal(events[i]); err != nil || len(raw)+len(events[i].Source())+len(events[i].Type()) > MaxEntryBytes {
			events[i].SetExtension(extTraceParent, nil)
		}
	}
}

// readEvents reads the request's events as structured JSON, whatever the
// mode, and whether it was a batch (error paths then start with the index).
func readEvents(r *http.Request) (raws []json.RawMessage, batch bool, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, false, httpapi.Errorf(http.StatusBadRequest, "could not read the request body")
	}
	if len(body) > maxBodyBytes {
		return nil, false, httpapi.Errorf(http.StatusRequestEntityTooLarge, "the body exceeds %d bytes: at most %d events of at most %d bytes each", maxBodyBytes, MaxBatch, MaxEntryBytes)
	}
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch media {
	case MediaBatch:
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, true, &httpapi.Error{Status: http.StatusBadRequest, Detail: "a batch is a JSON array of structured CloudEvents", Err: err}
		}
		switch {
		case len(raws) == 0:
			return nil, true, httpapi.Errorf(http.StatusBadRequest, "the batch is empty")
		case len(raws) > MaxBatch:
			return nil, true, httpapi.Errorf(http.StatusBadRequest, "the batch holds %d events; at most %d are allowed", len(raws), MaxBatch)
		}
		return raws, true, nil
	case MediaStructured:
		return []json.RawMessage{body}, false, nil
	default:
		// Binary mode: the SDK reads the ce-* headers and the body; its
		// structured JSON is what the schema checks.
		r.Body = io.NopCloser(bytes.NewReader(body))
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			return nil, false, &httpapi.Error{Status: http.StatusBadRequest, Err: err,
				Detail: "not a CloudEvent: send binary mode (ce-* headers), structured mode (" + MediaStructured + ") or a batch (" + MediaBatch + ")"}
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, false, &httpapi.Error{Status: http.StatusBadRequest, Detail: "the event cannot be encoded as JSON", Err: err}
		}
		return []json.RawMessage{raw}, false, nil
	}
}

// check decides on every event before any is published: 413 for an event
// too large, else 403 for one its sender may not publish, else 400 listing
// every failing place of every event; or the events, decoded.
func check(raws []json.RawMessage, batch bool, mine []Registration) ([]event.Event, error) {
	var tooLarge, forbidden []string
	var causes []problem.FieldError
	prefix := func(i int) string {
		if batch {
			return "/" + strconv.Itoa(i)
		}
		return ""
	}
	name := func(i int) string {
		if batch {
			return "event " + strconv.Itoa(i)
		}
		return "the event"
	}
	for i, raw := range raws {
		var head struct {
			Source string `json:"source"`
			Type   string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			causes = append(causes, problem.FieldError{Field: prefix(i), Message: "not a JSON object"})
			continue
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, raw) // raw is JSON: it just decoded
		if size := compact.Len() + len(head.Source) + len(head.Type); size > MaxEntryBytes {
			tooLarge = append(tooLarge, fmt.Sprintf("%s is %d bytes", name(i), size))
			continue
		}
		if !catalog.Known(head.Type) {
			causes = append(causes, problem.FieldError{Field: prefix(i) + "/type", Message: fmt.Sprintf("%q is not an event type of the catalog", head.Type)})
			continue
		}
		if !registered(mine, head.Source, head.Type) {
			forbidden = append(forbidden, fmt.Sprintf("%s (source %q, type %s)", name(i), head.Source, head.Type))
			continue
		}
		var ve *catalog.ValidationError
		switch err := explain.Validate(head.Type, raw); {
		case errors.As(err, &ve):
			for _, c := range ve.Causes {
				causes = append(causes, problem.FieldError{Field: prefix(i) + c.Path, Message: c.Message})
			}
		case err != nil:
			return nil, fmt.Errorf("ingest: validate %s: %w", head.Type, err)
		}
	}
	switch {
	case len(tooLarge) > 0:
		return nil, httpapi.Errorf(http.StatusRequestEntityTooLarge, "an event may take at most %d bytes (its JSON, source and type): %s", MaxEntryBytes, strings.Join(tooLarge, "; "))
	case len(forbidden) > 0:
		return nil, httpapi.Errorf(http.StatusForbidden, "not registered for you: %s", strings.Join(forbidden, "; "))
	case len(causes) > 0:
		return nil, &httpapi.Error{Status: http.StatusBadRequest, Detail: "the events do not match their schemas; nothing was published", Fields: causes}
	}
	events := make([]event.Event, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &events[i]); err != nil {
			return nil, invalid(prefix(i), "not a CloudEvent", err)
		}
		if err := events[i].Validate(); err != nil {
			return nil, invalid(prefix(i), "not a CloudEvent", err)
		}
	}
	return events, nil
}

func registered(mine []Registration, source, eventType string) bool {
	return slices.ContainsFunc(mine, func(r Registration) bool {
		return r.Source == source && slices.Contains(r.Types, eventType)
	})
}

func invalid(field, message string, err error) error {
	return &httpapi.Error{Status: http.StatusBadRequest, Detail: "not CloudEvents; nothing was published",
		Fields: []problem.FieldError{{Field: field, Message: message}}, Err: err}
}
