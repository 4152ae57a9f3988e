package httpapi

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoneMatch(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		etag   string
		want   bool
	}{
		{"no header", nil, `"3"`, false},
		{"same strong tag", []string{`"3"`}, `"3"`, true},
		{"other tag", []string{`"4"`}, `"3"`, false},
		{"weak matches strong (weak comparison)", []string{`W/"3"`}, `"3"`, true},
		{"strong matches weak", []string{`"3"`}, `W/"3"`, true},
		{"star", []string{"*"}, `"3"`, true},
		{"star with spaces", []string{" * "}, `"3"`, true},
		{"in a list", []string{`"1", W/"2" ,"3"`}, `"3"`, true},
		{"list without it", []string{`"1", "2"`}, `"3"`, false},
		{"across header lines", []string{`"1"`, `"3"`}, `"3"`, true},
		{"comma inside a tag", []string{`"a,b"`}, `"a,b"`, true},
		{"part of a comma tag is not the tag", []string{`"a,b"`}, `"a"`, false},
		{"unquoted is not a tag", []string{`3`}, `"3"`, false},
		{"garbage then the tag", []string{`xyz, "3"`}, `"3"`, true},
		{"unterminated", []string{`"3`}, `"3"`, false},
		{"empty tag matches empty tag only", []string{`""`}, `"3"`, false},
		{"bad etag matches nothing", []string{`*`}, `3`, false},
		{"case matters", []string{`"abc"`}, `"ABC"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NoneMatch(tt.values, tt.etag); got != tt.want {
				t.Errorf("NoneMatch(%q, %s) = %v, want %v", tt.values, tt.etag, got, tt.want)
			}
		})
	}
}

func TestWriteCached(t *testing.T) {
	v := map[string]int{"a": 1}
	tests := []struct {
		name        string
		method      string
		ifNoneMatch string
		etag        string
		status      int
		wantStatus  int
		wantETag    string
	}{
		{"no condition", http.MethodGet, "", `"7"`, 200, 200, `"7"`},
		{"match: 304", http.MethodGet, `"7"`, `"7"`, 200, 304, `"7"`},
		{"weak match: 304", http.MethodGet, `W/"7"`, `"7"`, 200, 304, `"7"`},
		{"HEAD match: 304", http.MethodHead, `"7"`, `"7"`, 200, 304, `"7"`},
		{"stale: 200", http.MethodGet, `"6"`, `"7"`, 200, 200, `"7"`},
		{"not a read: full answer", http.MethodPost, `"7"`, `"7"`, 200, 200, `"7"`},
		{"not a 200: full answer", http.MethodGet, `"7"`, `"7"`, 201, 201, `"7"`},
		{"body hash", http.MethodGet, "", "", 200, 200, BodyETag([]byte(`{"a":1}`))},
		{"body hash match: 304", http.MethodGet, BodyETag([]byte(`{"a":1}`)), "", 200, 304, BodyETag([]byte(`{"a":1}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", nil)
			if tt.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			WriteCached(rec, r, tt.status, tt.etag, CachePrivate, v)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("ETag"); got != tt.wantETag {
				t.Errorf("ETag = %s, want %s", got, tt.wantETag)
			}
			if got := rec.Header().Get("Cache-Control"); got != CachePrivate {
				t.Errorf("Cache-Control = %q, want %q", got, CachePrivate)
			}
			if tt.wantStatus == http.StatusNotModified {
				if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
					t.Errorf("304 has a body %q or a Content-Type %q", rec.Body, rec.Header().Get("Content-Type"))
				}
				return
			}
			if got := strings.TrimSpace(rec.Body.String()); got != `{"a":1}` {
				t.Errorf("body = %q", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestWriteCachedUnencodable(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	rec := httptest.NewRecorder()
	WriteCached(rec, r, http.StatusOK, `"1"`, CachePrivate, math.Inf(1))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
}

func TestBodyETagIsStrongAndStable(t *testing.T) {
	a, b := BodyETag([]byte("x")), BodyETag([]byte("x"))
	if a != b || strings.HasPrefix(a, "W/") || opaqueTag(a) == "" {
		t.Errorf("BodyETag = %s then %s: want one strong tag", a, b)
	}
	if BodyETag([]byte("y")) == a {
		t.Error("different bodies share a tag")
	}
	if VersionETag(3) != `"3"` {
		t.Errorf("VersionETag(3) = %s", VersionETag(3))
	}
}
