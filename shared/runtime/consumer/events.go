package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/shop-serverless/shop/shared/runtime"
)

// maxEventBytes bounds what one Knative delivery may make us buffer. SQS,
// EventBridge and Step Functions all cap payloads at 256 KiB, so nothing
// legitimate comes close.
const maxEventBytes = 1 << 20

// SQSAdapter consumes an SQS batch whose records carry EventBridge envelopes
// (or bare structured CloudEvents). Records are handled one at a time, in
// order; each failed record is reported by message id so that only it is
// redelivered. The Lambda error is always nil: failing the invocation would
// redeliver the records that succeeded too.
func SQSAdapter(h Handler) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
		// An empty list rather than null: AWS accepts both, emulators may not.
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for i, msg := range batch.Records {
			if err := ctx.Err(); err != nil {
				// Out of time: starting a record the deadline will cut short
				// gains nothing; the rest come back after the visibility timeout.
				slog.WarnContext(ctx, "consumer: deadline reached, returning unprocessed records",
					"unprocessed", len(batch.Records)-i, "error", err)
				for _, rest := range batch.Records[i:] {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
				}
				break
			}
			if err := handleRecord(ctx, h, msg.Body); err != nil {
				slog.ErrorContext(ctx, "consumer: event failed, will be redelivered",
					"messageId", msg.MessageId, "error", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			}
		}
		return resp, nil
	}
}

func handleRecord(ctx context.Context, h Handler, body string) error {
	e, err := decodeEvent([]byte(body))
	if err != nil {
		return err
	}
	if err := h(ctx, e); err != nil {
		return fmt.Errorf("event %s of type %s: %w", e.ID(), e.Type(), err)
	}
	return nil
}

// payloadShape tells the payloads an event consumer can receive apart by
// their top-level keys, which is all Lambda gives us to go on.
type payloadShape struct {
	Records     json.RawMessage `json:"Records"`     // SQS batch
	DetailType  *string         `json:"detail-type"` // EventBridge envelope
	Detail      json.RawMessage `json:"detail"`
	SpecVersion *string         `json:"specversion"` // structured CloudEvent
}

func decodeEvent(raw []byte) (event.Event, error) {
	var shape payloadShape
	if err := json.Unmarshal(raw, &shape); err != nil {
		return event.Event{}, fmt.Errorf("consumer: event payload is not a JSON object: %w", err)
	}
	return shape.event(raw)
}

// event extracts the CloudEvent from an EventBridge envelope or a bare
// structured CloudEvent; raw is the payload shape was decoded from.
func (s *payloadShape) event(raw []byte) (event.Event, error) {
	var structured []byte
	switch {
	case s.DetailType != nil:
		if len(s.Detail) == 0 {
			return event.Event{}, errors.New("consumer: EventBridge envelope has no detail")
		}
		structured = s.Detail
	case s.SpecVersion != nil:
		structured = raw
	default:
		return event.Event{}, errors.New("consumer: payload is neither an EventBridge envelope nor a CloudEvent")
	}
	var e event.Event
	if err := json.Unmarshal(structured, &e); err != nil {
		return event.Event{}, fmt.Errorf("consumer: decoding CloudEvent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("consumer: invalid CloudEvent %q: %w", e.ID(), err)
	}
	return e, nil
}

// lambdaEventHandler is the Lambda entry point of Start. It takes raw JSON
// because the payload's type is only known after looking at it, and returns
// JSON so that aws-lambda-go answers with the same application/json response
// as for any typed handler.
type lambdaEventHandler struct {
	handle Handler
}

func (l lambdaEventHandler) invoke(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	var shape payloadShape
	if err := json.Unmarshal(payload, &shape); err != nil {
		return nil, fmt.Errorf("consumer: event payload is not a JSON object: %w", err)
	}
	if shape.Records != nil {
		var batch events.SQSEvent
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, fmt.Errorf("consumer: decoding SQS batch: %w", err)
		}
		resp, err := SQSAdapter(l.handle)(ctx, batch)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
	e, err := shape.event(payload)
	if err != nil {
		return nil, err
	}
	// Returned unwrapped so that the invocation's errorType names the
	// handler's error, as for any other Lambda.
	if err := l.handle(ctx, e); err != nil {
		return nil, err
	}
	return []byte("null"), nil
}

// cloudEventsHandler is the Knative entry point of Start: one event per
// request, binary or structured mode, as a Trigger delivers them.
func cloudEventsHandler(h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			runtime.WriteProblem(w, r, http.StatusMethodNotAllowed, "CloudEvents are delivered with POST")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			// Not a 5xx: the broker would retry a request that can never succeed.
			status := http.StatusBadRequest
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			slog.WarnContext(r.Context(), "consumer: rejected CloudEvent delivery", "error", err)
			runtime.WriteProblem(w, r, status, "not a valid CloudEvent: "+err.Error())
			return
		}
		if err := h(r.Context(), *e); err != nil {
			slog.ErrorContext(r.Context(), "consumer: event failed, broker will redeliver",
				"eventId", e.ID(), "eventType", e.Type(), "error", err)
			runtime.WriteProblem(w, r, http.StatusInternalServerError, "event handler failed")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
