package dynamostub

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Case is one handler of a handler benchmark (Bench): a request and the
// answer every iteration must get, so a benchmark of a failing path fails
// instead of timing it.
type Case struct {
	Name    string
	Method  string // "" is GET
	Target  string // path and query
	Body    string // JSON; "" sends none
	Handler http.Handler
	Status  int    // the status every iteration must answer
	Want    string // text the body must contain
}

// Request is what Bench does to each request beyond Case: the path
// value id and the caller in its context, as API Gateway and the edge
// would have set them.
type Request struct {
	PathID string
	With   func(context.Context) context.Context // nil: the context as it is
}

// Bench runs each case as a sub-benchmark reporting allocations, a
// handler backed by the stub beside a bare net/http handler doing the
// same JSON work (Bare).
func Bench(b *testing.B, req Request, cases []Case) {
	for _, c := range cases {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(cmp.Or(c.Method, http.MethodGet), c.Target, strings.NewReader(c.Body))
				if c.Body != "" {
					r.Header.Set("Content-Type", "application/json")
				}
				if req.With != nil {
					r = r.WithContext(req.With(r.Context()))
				}
				if req.PathID != "" {
					r.SetPathValue("id", req.PathID)
				}
				rec := httptest.NewRecorder()
				c.Handler.ServeHTTP(rec, r)
				if rec.Code != c.Status || !strings.Contains(rec.Body.String(), c.Want) {
					b.Fatalf("%s: status %d, body %s; want %d with %s", c.Name, rec.Code, rec.Body, c.Status, c.Want)
				}
			}
		})
	}
}

// Bare is the bare handler's answer: v as JSON with status and a strong
// ETag, the work a handler does without storage or the shared edge.
func Bare(w http.ResponseWriter, status int, etag string, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
