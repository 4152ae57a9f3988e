package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
)

// Errors a call can match with errors.Is.
var (
	// ErrNotFound: the dependency answered 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the dependency answered 409 or 412.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: no usable answer: 5xx or 429 after the retries, network
	// errors, timeouts, or the breaker refused the call (then the error also
	// holds a *breaker.OpenError).
	ErrUnavailable = errors.New("dependency unavailable")
)

// StatusError is an answer with an error status (>= 400).
type StatusError struct {
	Name   string // the dependency
	Method string
	Path   string // the URL path, never the query (it may hold secrets)
	Status int
	// Problem is the decoded problem+json body, or nil when there was none.
	Problem *problem.Details
	// RetryAfter is the dependency's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

// Error is for logs: it quotes the dependency's problem detail, which the
// caller's own response must never do (see HTTPError).
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: %d %s", e.Name, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Problem != nil && e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	return msg
}

// Is maps the status to ErrNotFound, ErrConflict or ErrUnavailable.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	return false
}

// statusError reads (a bounded part of) an error answer, decodes a problem
// body if there is one, and closes it.
func (c *Client) statusError(req *http.Request, resp *http.Response) *StatusError {
	defer resp.Body.Close()
	se := &StatusError{Name: c.name, Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes)) // a broken error body still leaves the status
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil &&
		(mt == problem.ContentType || mt == "application/json") {
		var p problem.Details
		if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Status != 0 || p.Detail != "" || p.Type != "") {
			se.Problem = &p
		}
	}
	return se
}

// HTTPError turns a client error into the caller's own response: what the
// dependency said is never repeated, only logged (Err).
//
//   - ErrUnavailable (or a bare breaker.ErrOpen, from a breaker used without
//     a Client): 503 with Retry-After, in whole seconds rounded up, from the
//     breaker's OpenError, else 1;
//   - any other answer of the dependency (*StatusError): 502;
//   - anything else: 500.
//
// Handle the outcomes that mean something to the caller first, e.g.
// errors.Is(err, client.ErrNotFound) -> "no such user" as a 422; HTTPError is
// for what remains. It returns nil for a nil err.
func HTTPError(err error) *httpapi.Error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, breaker.ErrOpen) {
		retry := time.Second
		var open *breaker.OpenError
		if errors.As(err, &open) && open.RetryAfter > retry {
			retry = open.RetryAfter
		}
		secs := int64((retry + time.Second - 1) / time.Second) // round up: never invite a retry too early
		return &httpapi.Error{
			Status: http.StatusServiceUnavailable,
			Detail: "a service this request depends on is unavailable; retry later",
			Header: http.Header{"Retry-After": []string{strconv.FormatInt(secs, 10)}},
			Err:    err,
		}
	}
	var se *StatusError
	if errors.As(err, &se) {
		return &httpapi.Error{Status: http.StatusBadGateway, Detail: "a service this request depends on failed", Err: err}
	}
	return &httpapi.Error{Status: http.StatusInternalServerError, Title: "Internal Server Error",
		Detail: "an unexpected error occurred", Err: err}
}
