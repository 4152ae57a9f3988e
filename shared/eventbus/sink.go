package eventbus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// ContentTypeStructured is the media type of a CloudEvent sent in
// structured mode over HTTP.
const ContentTypeStructured = "application/cloudevents+json; charset=utf-8"

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

// Publish checks every event (Check) and posts those that pass, one by one.
func (s *Sink) Publish(ctx context.Context, events ...event.Event) error {
	fails := newFailures(len(events))
	for i, e := range events {
		body, _, err := encode(e)
		if err != nil {
			fails.add(i, e, true, err.Error(), err)
			continue
		}
		for attempt := 1; ; attempt++ {
			permanent, reason, err := s.post(ctx, body)
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
func (s *Sink) post(ctx context.Context, body []byte) (permanent bool, reason string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return true, "build request: " + err.Error(), err
	}
	req.Header.Set("Content-Type", ContentTypeStructured)
	resp, err := s.client.Do(req)
	if err != nil {
		return false, "POST to the sink: " + err.Error(), err
	}
	defer func() { _ = resp.Body.Close() }()
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
