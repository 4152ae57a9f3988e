// Package problem is the one error body of the shop's HTTP APIs: an RFC 9457
// problem document (application/problem+json), extended with the ids a
// caller quotes to support and with per-field validation errors. Handlers
// never build one themselves (httpapi.WriteError does, from an *httpapi.Error);
// the runtime adapters use it for the few requests they refuse before a
// handler runs; the service client decodes it from a dependency's answer.
//
//	problem.New(http.StatusBadRequest, "request body is empty").Write(w)
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem body.
const ContentType = "application/problem+json"

// FieldError names one invalid field by its JSON path ("price.amount",
// "items[2].quantity"); the empty path stands for the request body as a whole.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Details is an RFC 9457 problem body. Everything in it is shown to the
// caller, so no field may carry an internal error's text.
type Details struct {
	Type          string       `json:"type"`
	Title         string       `json:"title"`
	Status        int          `json:"status"`
	Detail        string       `json:"detail,omitempty"`
	Instance      string       `json:"instance,omitempty"`
	RequestID     string       `json:"requestId,omitempty"`
	CorrelationID string       `json:"correlationId,omitempty"`
	Errors        []FieldError `json:"errors,omitempty"`
}

// New returns a problem of type about:blank whose title is the status text.
func New(status int, detail string) Details {
	return Details{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Marshal encodes d. It cannot fail (strings, an int and a slice of
// strings); should it ever, a bare 500 body is returned rather than none.
func (d Details) Marshal() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		return []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
	}
	return b
}

// Write sends d with its status. Headers the caller set before (Retry-After,
// WWW-Authenticate) go out with it; a Content-Length meant for another body
// is dropped.
func (d Details) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(d.Status)
	_, _ = w.Write(append(d.Marshal(), '\n')) // a failed write means the caller has gone
}
