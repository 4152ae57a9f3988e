package runtime

import (
	"encoding/json"
	"net/http"
)

const problemContentType = "application/problem+json"

// problem is an RFC 9457 body for the few errors this package and its
// subpackages answer themselves (malformed requests reaching an adapter);
// handlers answer everything else.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

func problemBody(status int, detail, requestID string) []byte {
	b, _ := json.Marshal(problem{ // cannot fail: strings and an int
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		RequestID: requestID,
	})
	return b
}

// WriteProblem answers r with an RFC 9457 problem body (type about:blank, the
// status text as title, detail, and r's X-Request-Id). It is for the errors an
// entry point answers itself rather than its handler: a delivery that is not
// valid for the shape, or a handler failure reported without its cause. detail
// reaches the caller: it may say what is wrong with the request, never echo an
// internal error.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", problemContentType)
	w.WriteHeader(status)
	_, _ = w.Write(problemBody(status, detail, r.Header.Get("X-Request-Id")))
}
