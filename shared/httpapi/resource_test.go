package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestPathID(t *testing.T) {
	for id, status := range map[string]int{
		"0190c3c4-0000-7000-8000-000000000000":   0,
		"0190C3C4-0000-7000-8000-000000000000":   404, // not canonical
		"0190c3c400007000800000000000000":        404,
		"{0190c3c4-0000-7000-8000-000000000000}": 404,
		"":                                       404,
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.SetPathValue("id", id)
		got, err := PathID(r, "id", "thing")
		if statusOf(err) != status || (status == 0 && got != id) {
			t.Errorf("PathID(%q) = %q, %v; want status %d", id, got, err, status)
		}
	}
}

func TestIfMatchVersion(t *testing.T) {
	for header, want := range map[string]struct {
		v      int64
		status int
	}{
		`"3"`: {3, 0}, `3`: {3, 0}, ` "12" `: {12, 0},
		``: {0, http.StatusPreconditionRequired}, `"x"`: {0, 400}, `"0"`: {0, 400}, `W/"3"`: {0, 400},
	} {
		r := httptest.NewRequest("PATCH", "/x", nil)
		if header != "" {
			r.Header.Set("If-Match", header)
		}
		v, err := IfMatchVersion(r)
		if v != want.v || statusOf(err) != want.status {
			t.Errorf("If-Match %q: %d, %v; want %d, status %d", header, v, err, want.v, want.status)
		}
	}
}

func TestWriteVersioned(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteVersioned(rec, http.StatusCreated, 7, map[string]int{"a": 1})
	if rec.Code != 201 || rec.Header().Get("ETag") != `"7"` || rec.Header().Get("Content-Type") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

func TestIsIDAndLimit(t *testing.T) {
	for id, want := range map[string]bool{
		"0190c3c4-0000-7000-8000-000000000000":   true,
		"0190C3C4-0000-7000-8000-000000000000":   false, // not canonical
		"0190c3c40000700080000000000000000000":   false,
		"{0190c3c4-0000-7000-8000-000000000000}": false,
		"":                                       false,
	} {
		if IsID(id) != want {
			t.Errorf("IsID(%q) = %v", id, !want)
		}
	}
	for q, want := range map[string]int32{"": 20, "limit=1": 1, "limit=100": 100, "limit=0": -1, "limit=101": -1, "limit=x": -1} {
		got, err := Limit(httptest.NewRequest("GET", "/?"+q, nil), 20, 100)
		if want < 0 {
			var he *Error
			if !errors.As(err, &he) || he.Status != 400 || len(he.Fields) != 1 || he.Fields[0].Field != "limit" {
				t.Errorf("Limit(%q) = %d, %v; want a 400 naming limit", q, got, err)
			}
		} else if err != nil || got != want {
			t.Errorf("Limit(%q) = %d, %v; want %d", q, got, err, want)
		}
	}
}
