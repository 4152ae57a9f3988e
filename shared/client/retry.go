package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/tracing"
)

// retryable reports whether req may be sent more than once.
func retryable(req *http.Request) bool {
	switch {
	case req.Body != nil && req.Body != http.NoBody && req.GetBody == nil:
		return false // the body cannot be sent again
	case req.Method == http.MethodGet, req.Method == http.MethodHead, req.Method == http.MethodOptions:
		return true
	}
	return req.Header.Get(httpapi.HeaderIdempotencyKey) != ""
}

// attempts sends req until it gets an answer worth returning, runs out of
// attempts, or would have to wait past the context's deadline.
func (c *Client) attempts(ctx context.Context, req *http.Request, token string, buffer bool) (*http.Response, error) {
	maxAttempts := 1
	if retryable(req) {
		maxAttempts = c.maxAttempts
	}
	for attempt := 0; ; attempt++ {
		resp, o := c.attempt(ctx, req, token, attempt, buffer)
		err := o.err
		if err == nil || !o.retry || attempt+1 >= maxAttempts || ctx.Err() != nil {
			return resp, err
		}
		wait := c.backoff(attempt)
		if o.retryAfter > 0 {
			wait = o.retryAfter
		}
		if wait > maxRetryAfter {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return nil, err // sleeping would outlive the caller's budget
		}
		log.FromContext(ctx).Info("client: retrying",
			"dependency", c.name, "method", req.Method, "path", req.URL.Path,
			"attempt", attempt+1, "waitMs", wait.Milliseconds(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// backoff is "full jitter": a uniform wait in [0, min(cap, base*2^attempt)),
// which spreads the retries of many callers hit by the same failure.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := backoffCap
	if attempt < 10 {
		ceiling = min(backoffCap, backoffBase<<attempt)
	}
	return rand.N(ceiling)
}

// failure is why an attempt got no answer below 400.
type failure struct {
	err        error
	retry      bool          // another attempt may fare better
	retryAfter time.Duration // the dependency's Retry-After, if it sent one
}

// attempt sends one copy of req and returns the answer (below 400), or why
// there was none.
func (c *Client) attempt(ctx context.Context, req *http.Request, token string, n int, buffer bool) (_ *http.Response, f failure) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	// One subsegment per attempt: retries show as what they are, and each
	// attempt's status and error are its own.
	actx, span := tracing.StartRemote(actx, c.name)
	status := 0
	defer func() {
		span.SetHTTP(req.Method, withoutQuery(req.URL), status)
		span.End(f.err)
	}()
	r := req.Clone(actx)
	if n > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, failure{err: fmt.Errorf("%s: %s %s: replaying the body: %w", c.name, req.Method, req.URL.Path, err)}
		}
		r.Body = body
	}
	if id := httpapi.CorrelationID(ctx); id != "" && r.Header.Get(httpapi.HeaderCorrelationID) == "" {
		r.Header.Set(httpapi.HeaderCorrelationID, id)
	}
	if h := tracing.Header(actx); h != "" && r.Header.Get(HeaderTraceID) == "" {
		r.Header.Set(HeaderTraceID, h)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if c.decorate != nil {
		c.decorate(actx, r)
	}

	resp, err := c.http.Do(r)
	if err != nil {
		cancel()
		return nil, c.transportError(ctx, req, err)
	}
	status = resp.StatusCode
	if resp.StatusCode >= 400 {
		defer cancel()
		se := c.statusError(req, resp)
		switch se.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return nil, failure{err: se, retry: true, retryAfter: se.RetryAfter}
		}
		return nil, failure{err: se}
	}
	if !buffer {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		return resp, failure{}
	}
	// Read the whole answer inside the attempt, so that a connection lost
	// mid-body is retried like any other network error.
	defer cancel()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, c.transportError(ctx, req, err)
	}
	if len(body) > maxBodyBytes {
		return nil, failure{err: fmt.Errorf("%s: %s %s: response exceeds %d bytes", c.name, req.Method, req.URL.Path, maxBodyBytes)}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, failure{}
}

// transportError classifies a failure to get an answer. The caller's own
// cancellation is not the dependency's fault and not retried; its deadline
// passing is (the dependency was too slow for the budget) but there is no
// time left to retry; anything else, an attempt timeout included, is.
func (c *Client) transportError(ctx context.Context, req *http.Request, err error) failure {
	where := fmt.Sprintf("%s: %s %s", c.name, req.Method, req.URL.Path)
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the full URL, query included
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return failure{err: fmt.Errorf("%s: %w", where, ctx.Err())}
	case ctx.Err() != nil:
		return failure{err: fmt.Errorf("%s: %w: %w", where, ErrUnavailable, ctx.Err())}
	}
	return failure{err: fmt.Errorf("%s: %w: %w", where, ErrUnavailable, err), retry: true}
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if secs < 0 {
			return 0
		}
		// Saturate: multiplied out, 2^63 ns and more would wrap, and a
		// server's request for an enormous wait would become a short one.
		if secs > int(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// withoutQuery is u as a span records it: a query may carry what a trace
// must not (an e-mail address, a token).
func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

// cancelOnClose ends an attempt's context when the caller is done with the
// body, not before: cancelling earlier would cut the body off.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
