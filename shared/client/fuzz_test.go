package client

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseRetryAfter: a dependency's Retry-After never becomes a
// negative wait, and delay-seconds mean exactly that many seconds (the
// longest wait there is when they overflow a Duration: a server asking for
// an enormous wait must be waited out, or given up on, never hammered).
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", " 5 ", "-1", "120", "9223372037", "99999999999999999999", "+3", "1.5",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Monday, 02-Jan-06 15:04:05 MST", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v)
		if d < 0 {
			t.Fatalf("Retry-After %q is a wait of %v", v, d)
		}
		secs, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || secs < 0 {
			return
		}
		want := time.Duration(math.MaxInt64)
		if secs <= int(math.MaxInt64/int64(time.Second)) {
			want = time.Duration(secs) * time.Second
		}
		if d != want {
			t.Fatalf("Retry-After %q: %v, want %v", v, d, want)
		}
	})
}

// FuzzStatusError feeds the client's reading of an error answer arbitrary
// statuses, content types, Retry-After values and bodies. A problem is
// decoded only from a problem or JSON body, and says something; the
// status and Retry-After are kept (never negative); the errors it is map
// from the status alone; and what the caller answers for it (HTTPError)
// is a 502 or a 503 with a Retry-After of at least one second, never a
// 500 and never the dependency's words.
func FuzzStatusError(f *testing.F) {
	f.Add(503, "application/problem+json", "3", []byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"down"}`))
	f.Add(404, "application/json; charset=utf-8", "", []byte(`{"detail":"no such user"}`))
	f.Add(409, "application/problem+json", "", []byte(`{}`))
	f.Add(429, "text/html", "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`<html>`))
	f.Add(500, "application/problem+json; x=\"", "-5", []byte(`{"status":"500"}`))
	f.Add(412, "", "99999999999999999999", []byte(nil))
	f.Add(400, "application/json", "9223372037", []byte(`{"detail":"`+strings.Repeat("x", 70<<10)+`"}`))
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		status = 400 + (status%200+200)%200 // every error status
		c := &Client{name: "users"}
		req, _ := http.NewRequest(http.MethodGet, "http://users.test/v1/users/u-1?email=secret", nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(body)))}
		if contentType != "" {
			resp.Header.Set("Content-Type", contentType)
		}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		se := c.statusError(req, resp)
		if se.Status != status || se.Name != "users" || se.Path != "/v1/users/u-1" {
			t.Fatalf("status error %+v", se)
		}
		if se.RetryAfter < 0 {
			t.Fatalf("Retry-After %q read as %v", retryAfter, se.RetryAfter)
		}
		if p := se.Problem; p != nil {
			if !strings.Contains(contentType, "json") {
				t.Fatalf("a problem from a %q body", contentType)
			}
			if p.Title == "" && p.Status == 0 && p.Detail == "" && p.Type == "" {
				t.Fatal("an empty problem")
			}
		}
		msg := se.Error()
		if strings.Contains(msg, "secret") && !strings.Contains(string(body), "secret") {
			t.Fatalf("the error quotes the query: %s", msg)
		}
		if errors.Is(se, ErrNotFound) != (status == 404) || errors.Is(se, ErrConflict) != (status == 409 || status == 412) ||
			errors.Is(se, ErrUnavailable) != (status >= 500 || status == 429) {
			t.Fatalf("status %d maps to the wrong sentinel", status)
		}
		he := HTTPError(se)
		switch he.Status {
		case http.StatusBadGateway:
		case http.StatusServiceUnavailable:
			if n, err := strconv.Atoi(he.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("503 with Retry-After %q", he.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("a dependency's %d becomes the caller's %d", status, he.Status)
		}
		if se.Problem != nil && se.Problem.Detail != "" && strings.Contains(he.Detail, se.Problem.Detail) {
			t.Fatalf("the caller's answer repeats the dependency's detail %q", se.Problem.Detail)
		}
	})
}
