package tracing

import (
	"net/http"
	"net/url"
)

type transport struct {
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := fromContext(req.Context())
	if s == nil {
		return t.next.RoundTrip(req)
	}
	if req.Header.Get(HeaderName) == "" {
		// A RoundTripper must not change the caller's request.
		req = req.Clone(req.Context())
		req.Header.Set(HeaderName, s.header())
	}
	resp, err := t.next.RoundTrip(req)
	if s.namespace == namespaceRemote { // never overwrite an invocation span's own request
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		s.SetHTTP(req.Method, withoutQuery(req.URL), status)
	}
	return resp, err
}

// withoutQuery is u as recorded on a span: a query may carry what a trace
// must not (a token, an e-mail address).
func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}
