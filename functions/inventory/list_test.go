package inventory

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParseIDs(t *testing.T) {
	id := uuid.NewString()
	fifty := make([]string, MaxBatchIDs)
	for i := range fifty {
		fifty[i] = uuid.NewString()
	}
	cases := []struct {
		name   string
		values []string
		ok     bool
	}{
		{"one", []string{id}, true},
		{"fifty", []string{strings.Join(fifty, ",")}, true},
		{"fifty-one", []string{strings.Join(append(fifty, id), ",")}, false},
		{"empty", []string{""}, false},
		{"empty id", []string{id + ","}, false},
		{"malformed", []string{"nope"}, false},
		{"twice", []string{id + "," + id}, false},
		{"parameter twice", []string{id, uuid.NewString()}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := parseIDs(c.values); (err == nil) != c.ok {
				t.Fatalf("parseIDs = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// ids= is not a filter of the page: with cursor or limit it is refused
// before any read (the nil store would panic otherwise).
func TestBatchReadRefusesPaging(t *testing.T) {
	h := List(nil)
	id := uuid.NewString()
	for _, q := range []string{"ids=" + id + "&limit=2", "ids=" + id + "&cursor=x", "ids="} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/products?"+q, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, rec.Code)
		}
	}
}
