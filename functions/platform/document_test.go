package platform

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDocumentETagAndNotModified(t *testing.T) {
	h := Document([]byte(`{"openapi":"3.1.0"}`), "public, max-age=300")
	get := func(inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	first := get("")
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || first.Body.String() != `{"openapi":"3.1.0"}` || len(etag) != 34 ||
		first.Header().Get("Cache-Control") != "public, max-age=300" || first.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %v %q", first.Code, first.Header(), first.Body)
	}
	for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
		if w := get(inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q", inm, w.Code, w.Body)
		}
	}
	if w := get(`"other"`); w.Code != http.StatusOK {
		t.Errorf("a stale If-None-Match: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil)
	w := httptest.NewRecorder()
	Document([]byte(`{}`), "x").ServeHTTP(w, r)
	if w.Header().Get("ETag") == etag {
		t.Error("two documents, one ETag")
	}
}
