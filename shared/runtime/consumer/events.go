package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	catalog "github.com/shop-serverless/shop/events"
	shopevent "github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/tracing"
)

// maxEventBytes bounds what one Knative delivery may make us buffer. SQS,
// EventBridge and Step Functions all cap payloads at 256 KiB, so nothing
// legitimate comes close.
const maxEventBytes = 1 << 20

// Consumer is a Handler with what the runtime does around every delivery:
// the event is checked against the catalog (a poison event never reaches
// the handler), the fault switch is applied, and the handler runs at most
// once per event (Claims). Start builds one from the function's
// environment; each field may be nil (tests).
type Consumer struct {
	Handle  Handler
	Claims  *Claims          // deduplication on the event id; nil: none
	Backoff *Backoff         // Lambda: when a failed SQS message returns; nil: after the visibility timeout
	Faults  *faults.Injector // the test-only fault switch, keyed by the event's subject
}

// PermanentError is a failure no redelivery can cure: a poison event
// (undecodable, of a type the catalog does not know, against its schema),
// or what a handler marks with Permanent. On Lambda its message returns at
// once and so reaches the dead-letter queue after its few receives; on
// Knative it is answered with a 4xx, which the broker does not retry. It is
// inbound's, so that service packages can mark errors without linking this
// package.
type PermanentError = inbound.PermanentError

// Permanent marks err as one no redelivery can cure (nil stays nil).
func Permanent(err error) error { return inbound.Permanent(err) }

// IsPermanent reports an error marked with Permanent anywhere in its chain.
func IsPermanent(err error) bool { return inbound.IsPermanent(err) }

// Inbound adapts a handler written against inbound.Event (a service
// package's: see package inbound) to a Handler.
func Inbound(h func(context.Context, inbound.Event) error) Handler {
	return func(ctx context.Context, e event.Event) error {
		return h(ctx, inbound.Event{ID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(), Time: e.Time(), Data: e.Data()})
	}
}

// SQS consumes an SQS batch whose records carry EventBridge envelopes (or
// bare structured CloudEvents). Records are handled one at a time, in
// order; each failed record is reported by message id so that only it is
// redelivered (ReportBatchItemFailures), and its visibility changed by the
// Backoff. The Lambda error is always nil: failing the invocation would
// redeliver the records that succeeded too.
func (c *Consumer) SQS(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	// An empty list rather than null: AWS accepts both, emulators may not.
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, msg := range batch.Records {
		if err := ctx.Err(); err != nil {
			// Out of time: starting a record the deadline will cut short
			// gains nothing; the rest come back after the visibility timeout.
			log.FromContext(ctx).WarnContext(ctx, "consumer: deadline reached, returning unprocessed records",
				"unprocessed", len(batch.Records)-i, "error", err)
			for _, rest := range batch.Records[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
			}
			break
		}
		if err := c.message(ctx, msg); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

// message handles one SQS record in a span of its own (startEvent), which
// continues the message's AWSTraceHeader (the trace EventBridge and SQS
// carried on AWS) or else the event's traceparent; a failure is logged and
// the Backoff changes the message's visibility, within the span.
func (c *Consumer) message(ctx context.Context, msg events.SQSMessage) (err error) {
	e, err := decodePayload([]byte(msg.Body))
	ctx, span := startEvent(ctx, msg.Attributes[attrAWSTraceHeader], e, err == nil)
	defer func() { span.End(err) }()
	if err == nil {
		err = c.deliver(ctx, e)
		if err != nil {
			err = fmt.Errorf("event %s of type %s: %w", e.ID(), e.Type(), err)
		}
	}
	if err == nil {
		return nil
	}
	permanent := IsPermanent(err)
	if permanent {
		log.FromContext(ctx).ErrorContext(ctx, "consumer: poison message, on its way to the dead-letter queue",
			"messageId", msg.MessageId, "receiveCount", msg.Attributes["ApproximateReceiveCount"], "error", err)
		countPoison(msg)
	} else {
		log.FromContext(ctx).ErrorContext(ctx, "consumer: event failed, will be redelivered",
			"messageId", msg.MessageId, "receiveCount", msg.Attributes["ApproximateReceiveCount"], "error", err)
	}
	if c.Backoff != nil {
		c.Backoff.retryLater(ctx, msg, permanent)
	}
	return err
}

// decodePayload returns the checked event of an EventBridge envelope or a
// bare structured CloudEvent.
func decodePayload(raw []byte) (event.Event, error) {
	var shape payloadShape
	if err := json.Unmarshal(raw, &shape); err != nil {
		return event.Event{}, Permanent(fmt.Errorf("consumer: event payload is not a JSON object: %w", err))
	}
	return shape.event(raw)
}

// attrAWSTraceHeader is the SQS system attribute that carries the sender's
// X-Ray trace header (on AWS, EventBridge's entry's, continued).
const attrAWSTraceHeader = "AWSTraceHeader"

// startEvent begins the span of one delivery of an event: a span of this
// function in the trace upstream names when it names a parent (an SQS
// message's AWSTraceHeader, the X-Amzn-Trace-Id a broker passed on), else
// in the trace of the code that made the event (its traceparent: what the
// local emulator, which carries no trace through EventBridge, leaves),
// annotated with what the event is and is about (shopevent.Annotate: package envelope). A
// delivery whose event did not decode (decoded false) gets a span too, in
// upstream's trace or a new one, so the poison shows.
func startEvent(ctx context.Context, upstream string, e event.Event, decoded bool) (context.Context, *tracing.Span) {
	ctx, span := tracing.Invocation(ctx, eventUpstream(upstream, e, decoded))
	if decoded {
		shopevent.Annotate(ctx, e)
	}
	return ctx, span
}

// eventUpstream is the trace a delivery continues (startEvent): carried
// when it names a parent, else the event's own, else none.
func eventUpstream(carried string, e event.Event, decoded bool) string {
	switch {
	case strings.Contains(carried, "Parent="):
		return carried
	case decoded:
		return shopevent.TraceOf(e)
	}
	return ""
}

// deliver runs the handler on a checked event, at most once.
func (c *Consumer) deliver(ctx context.Context, e event.Event) error {
	ctx = eventContext(ctx, e)
	handle := c.Handle
	if c.Faults != nil {
		handle = func(ctx context.Context, e event.Event) error {
			// Inside the claim, so an injected failure releases it as any
			// handler failure does, and the redelivery runs again; a crash
			// after the handler's write leaves the claim to expire.
			ctx, err := c.Faults.Begin(ctx, e.Subject())
			if err != nil {
				return err
			}
			return c.Handle(ctx, e)
		}
	}
	handle = countConsumed(handle)
	if c.Claims == nil {
		return handle(ctx, e)
	}
	return c.Claims.Once(ctx, e, handle)
}

// eventContext carries e's identity into the logger and its correlation id
// into the context, so the handler's lines and calls continue the
// correlation the event started. The logger's invocation fields become the
// event's (log.Invocation again): its correlation id, and the trace id of
// ctx, where the event's own span is when one was begun for it.
func eventContext(ctx context.Context, e event.Event) context.Context {
	f, _ := log.InvocationFields(ctx)
	f.CorrelationID = ""
	if id, ok := e.Extensions()["correlationid"].(string); ok && id != "" {
		ctx = httpapi.WithCorrelationID(ctx, id)
		f.CorrelationID = id
	}
	f.TraceID = tracing.TraceID(ctx)
	ctx, l := log.Invocation(ctx, f)
	return log.WithContext(ctx, l.With("eventId", e.ID(), "eventType", e.Type(), "eventSource", e.Source(), "subject", e.Subject()))
}

// checkEvent decodes a structured CloudEvent that matches its type's schema
// in the catalog. Anything else is poison: a PermanentError.
func checkEvent(structured []byte) (event.Event, error) {
	if err := catalog.ValidateEvent(structured); err != nil {
		return event.Event{}, Permanent(fmt.Errorf("consumer: %w", err))
	}
	var e event.Event
	if err := json.Unmarshal(structured, &e); err != nil {
		return event.Event{}, Permanent(fmt.Errorf("consumer: decoding CloudEvent: %w", err))
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, Permanent(fmt.Errorf("consumer: invalid CloudEvent %q: %w", e.ID(), err))
	}
	return e, nil
}

// payloadShape tells the payloads an event consumer can receive apart by
// their top-level keys, which is all Lambda gives us to go on.
type payloadShape struct {
	Records     json.RawMessage `json:"Records"`     // SQS batch
	DetailType  *string         `json:"detail-type"` // EventBridge envelope
	Detail      json.RawMessage `json:"detail"`
	Source      string          `json:"source"`      // the envelope's, or the bare CloudEvent's
	SpecVersion *string         `json:"specversion"` // structured CloudEvent
}

// event returns the checked CloudEvent of an EventBridge envelope or a bare
// structured CloudEvent; raw is the payload s was decoded from. An envelope
// must say what its event says: the rules match the envelope's source and
// detail-type, the handler goes by the event's, and anyone allowed
// PutEvents could make them differ.
func (s *payloadShape) event(raw []byte) (event.Event, error) {
	structured, err := s.structured(raw)
	if err != nil {
		return event.Event{}, err
	}
	e, err := checkEvent(structured)
	if err != nil {
		return event.Event{}, err
	}
	if s.DetailType != nil && (*s.DetailType != e.Type() || s.Source != e.Source()) {
		return event.Event{}, Permanent(fmt.Errorf("consumer: the EventBridge envelope (source %q, detail-type %q) does not match its event (source %q, type %q)",
			s.Source, *s.DetailType, e.Source(), e.Type()))
	}
	return e, nil
}

// structured returns the structured CloudEvent of an EventBridge envelope
// or a bare structured CloudEvent; raw is the payload s was decoded from.
func (s *payloadShape) structured(raw []byte) ([]byte, error) {
	switch {
	case s.DetailType != nil:
		if len(s.Detail) == 0 || string(s.Detail) == "null" {
			return nil, Permanent(errors.New("consumer: EventBridge envelope has no detail"))
		}
		return s.Detail, nil
	case s.SpecVersion != nil:
		return raw, nil
	default:
		return nil, Permanent(errors.New("consumer: payload is neither an EventBridge envelope nor a CloudEvent"))
	}
}

// Lambda is the Lambda entry point. It takes raw JSON because the payload's
// type is only known after looking at it, and returns JSON so that
// aws-lambda-go answers with the same application/json response as for
// any typed handler. An SQS batch gets the partial batch response; a direct
// EventBridge invocation or a bare structured CloudEvent (aws lambda
// invoke) gets the handler's error as the invocation's error.
func (c *Consumer) Lambda(ctx context.Context, payload json.RawMessage) (_ json.RawMessage, err error) {
	ctx, end := runtime.BeginInvocation(ctx, "", "")
	failures := 0
	defer func() {
		if err != nil {
			failures = 1
		}
		end(failures)
	}()
	var shape payloadShape
	if err := json.Unmarshal(payload, &shape); err != nil {
		return nil, fmt.Errorf("consumer: event payload is not a JSON object: %w", err)
	}
	if shape.Records != nil {
		var batch events.SQSEvent
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, fmt.Errorf("consumer: decoding SQS batch: %w", err)
		}
		resp, err := c.SQS(ctx, batch)
		if err != nil {
			return nil, err
		}
		failures = len(resp.BatchItemFailures)
		return json.Marshal(resp)
	}
	e, err := shape.event(payload)
	ctx, span := startEvent(ctx, "", e, err == nil)
	if err == nil {
		// Returned unwrapped so that the invocation's errorType names the
		// handler's error, as for any other Lambda.
		err = c.deliver(ctx, e)
	}
	span.End(err)
	if err != nil {
		return nil, err
	}
	return []byte("null"), nil
}

// HTTP is the Knative entry point: one event per request, binary or
// structured mode, as a Trigger delivers them. 204 once handled (or
// handled before); 400 for a request that is not a valid event of the
// catalog, 413 past maxEventBytes, 422 for a handler's permanent failure
// (the broker retries none of them: it sends them to its dead-letter sink);
// 409 with Retry-After while another delivery of the event is being
// handled, and 500 when the handler fails, which the broker retries.
func (c *Consumer) HTTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			runtime.WriteProblem(w, r, http.StatusMethodNotAllowed, "CloudEvents are delivered with POST")
			return
		}
		ctx, end := runtime.BeginInvocation(r.Context(), r.Header.Get("X-Request-Id"), "")
		r = r.WithContext(ctx)
		failures := 0
		defer func() { end(failures) }()
		r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
		e, err := receive(r)
		ctx, span := startEvent(r.Context(), r.Header.Get(tracing.HeaderName), e, err == nil)
		r = r.WithContext(ctx)
		status, err := c.answer(w, r, e, err)
		span.SetHTTP(r.Method, r.URL.String(), status)
		if errors.Is(err, ErrInProgress) {
			err = nil // another delivery is on it: no failure of this one
		}
		if err != nil {
			failures = 1
		}
		span.End(err)
	})
}

// answer handles the event of a Knative delivery, or rejects it (recvErr:
// it could not be read), and answers; it returns the status it answered
// and why it failed.
func (c *Consumer) answer(w http.ResponseWriter, r *http.Request, e event.Event, recvErr error) (int, error) {
	if recvErr != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(recvErr, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		log.FromContext(r.Context()).WarnContext(r.Context(), "consumer: rejected CloudEvent delivery", "error", recvErr)
		metrics.Count(metrics.DeadLettered, 1) // the broker retries no 4xx: its dead-letter sink
		runtime.WriteProblem(w, r, status, "not a valid event: "+recvErr.Error())
		return status, recvErr
	}
	err := c.deliver(r.Context(), e)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent, nil
	case errors.Is(err, ErrInProgress):
		w.Header().Set("Retry-After", "1")
		runtime.WriteProblem(w, r, http.StatusConflict, "this event is being handled by another delivery; retry later")
		return http.StatusConflict, err
	case IsPermanent(err):
		log.FromContext(r.Context()).ErrorContext(r.Context(), "consumer: event cannot be handled, not to be retried",
			"eventId", e.ID(), "eventType", e.Type(), "error", err)
		metrics.Count(metrics.DeadLettered, 1)
		runtime.WriteProblem(w, r, http.StatusUnprocessableEntity, "the event cannot be handled")
		return http.StatusUnprocessableEntity, err
	default:
		log.FromContext(r.Context()).ErrorContext(r.Context(), "consumer: event failed, broker will redeliver",
			"eventId", e.ID(), "eventType", e.Type(), "error", err)
		runtime.WriteProblem(w, r, http.StatusInternalServerError, "event handler failed")
		return http.StatusInternalServerError, err
	}
}

// receive reads the request's event in binary or structured mode and checks
// it against the catalog, in its structured form.
func receive(r *http.Request) (event.Event, error) {
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		return event.Event{}, err
	}
	structured, err := json.Marshal(e)
	if err != nil {
		return event.Event{}, err
	}
	return checkEvent(structured)
}
