package eventbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
)

// ContentTypeStructured is the media type of a CloudEvent sent in
// structured mode over HTTP.
const ContentTypeStructured = "application/cloudevents+json; charset=utf-8"

// sinkName names a POST to the sink in a trace (a remote call's span).
const sinkName = "broker"

// sinkTimeout bounds one POST to the sink.
const sinkTimeout = 10 * time.Second

// Sink publishes to a Knative sink (a broker's ingress, from K_SINK): one
// POST per event in structured mode, the same JSON an EventBridge entry
// carries as its detail. A 2xx answer is success; 400, 413, 415 and 422 say
// the event is at fault (permanent); anything else, or no answer, is
// transient and sent again with backoff.
type Sink struct {
	url    string
	client *http.Client
	retry  Retry
}

// NewSink returns a publisher to the sink at rawURL.
func NewSink(rawURL string) (*Sink, error) {
	u, err := checkSinkURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &Sink{url: u.String(), client: &http.Client{Timeout: sinkTimeout}, retry: DefaultRetry}, nil
}

// WithRetry returns a copy of s that retries as r says.
func (s *Sink) WithRetry(r Retry) *Sink {
	c := *s
	c.retry = r
	return &c
}

// Publish publishes events as PublishTraced does, each in its own trace
// (envelope.TraceOf).
func (s *Sink) Publish(ctx context.Context, events ...event.Event) error {
	return s.PublishTraced(ctx, untraced(events)...)
}

// PublishTraced checks every event (Check) and posts those that pass, one
// by one, each POST a span in the event's trace (Publisher) whose header it
// sends as X-Amzn-Trace-Id. (The event itself carries its traceparent,
// which is what a Knative consumer continues: a broker need not pass the
// header on.)
func (s *Sink) PublishTraced(ctx context.Context, events ...Traced) error {
	fails := newFailures(len(events))
	for i, t := range events {
		e := t.Event
		body, _, err := encode(e)
		if err != nil {
			fails.add(i, e, true, err.Error(), err)
			continue
		}
		for attempt := 1; ; attempt++ {
			span, header := t.callSpan(func(ctx context.Context) (context.Context, *tracing.Span) {
				return tracing.StartRemote(ctx, sinkName)
			})
			permanent, reason, err := s.post(ctx, body, header, span)
			if reason == "" {
				break
			}
			if permanent || attempt >= s.retry.Attempts {
				fails.add(i, e, permanent, fmt.Sprintf("%s (attempt %d)", reason, attempt), err)
				break
			}
			if werr := s.retry.wait(ctx, attempt+1); werr != nil {
				fails.add(i, e, false, reason+"; not retried: "+werr.Error(), werr)
				break
			}
		}
	}
	return fails.err()
}

// post sends one structured event; reason is "" on success.
// The POST's span records the method, URL and status and ends with reason.
func (s *Sink) post(ctx context.Context, body []byte, traceHeader string, span *tracing.Span) (permanent bool, reason string, err error) {
	status := 0
	defer func() {
		span.SetHTTP(http.MethodPost, s.url, status)
		var cause error
		if reason != "" {
			cause = errors.New(reason)
		}
		span.End(cause)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return true, "build request: " + err.Error(), err
	}
	req.Header.Set("Content-Type", ContentTypeStructured)
	if traceHeader != "" {
		req.Header.Set(tracing.HeaderName, traceHeader)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false, "POST to the sink: " + err.Error(), err
	}
	defer func() { _ = resp.Body.Close() }()
	status = resp.StatusCode
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, "", nil
	case resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusRequestEntityTooLarge,
		resp.StatusCode == http.StatusUnsupportedMediaType, resp.StatusCode == http.StatusUnprocessableEntity:
		return true, "the sink answered " + resp.Status, nil
	}
	return false, "the sink answered " + resp.Status, nil
}
