package idempotency_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Each of the middleware's writes (acquire: PutItem, complete: UpdateItem,
// release: DeleteItem) loses its response once, after the emulator applied
// it, and the SDK retries: the outcome must be the one without the fault,
// and nothing may be logged as failed.

// lossyDo sends a request whose log lines land in logs.
func lossyDo(t *testing.T, h http.Handler, logs *bytes.Buffer, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
	req.Header.Set(httpapi.HeaderIdempotencyKey, key)
	req = req.WithContext(log.WithContext(req.Context(), slog.New(slog.NewJSONHandler(logs, nil))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestLostResponsesToTheRecordsWrites(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	st := idempotency.New(db, table, idempotency.Options{Scope: "test"})
	var logs bytes.Buffer

	t.Run("acquire", func(t *testing.T) {
		c := &counter{}
		loss.Next("PutItem")
		rec := lossyDo(t, st.Wrap(c), &logs, "acquire", `{}`)
		loss.WantLost(t, "PutItem", 1)
		if rec.Code != http.StatusCreated || c.runs.Load() != 1 {
			t.Fatalf("first request, its lock's response lost: %d %s, runs %d; want 201 and one run", rec.Code, rec.Body, c.runs.Load())
		}
	})
	t.Run("complete", func(t *testing.T) {
		c := &counter{}
		loss.Next("UpdateItem")
		first := lossyDo(t, st.Wrap(c), &logs, "complete", `{}`)
		loss.WantLost(t, "UpdateItem", 1)
		again := lossyDo(t, st.Wrap(c), &logs, "complete", `{}`)
		if first.Code != http.StatusCreated || again.Header().Get(idempotency.HeaderReplayed) != "true" || again.Body.String() != first.Body.String() || c.runs.Load() != 1 {
			t.Fatalf("completion's response lost: first %d, then %d replayed=%q, runs %d", first.Code, again.Code, again.Header().Get(idempotency.HeaderReplayed), c.runs.Load())
		}
	})
	t.Run("release", func(t *testing.T) {
		c := &counter{status: http.StatusServiceUnavailable}
		loss.Next("DeleteItem")
		if rec := lossyDo(t, st.Wrap(c), &logs, "release", `{}`); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("first: %d", rec.Code)
		}
		loss.WantLost(t, "DeleteItem", 1)
		c.status = http.StatusCreated
		if rec := lossyDo(t, st.Wrap(c), &logs, "release", `{}`); rec.Code != http.StatusCreated || c.runs.Load() != 2 {
			t.Fatalf("retry after a 5xx whose release's response was lost: %d, runs %d; want 201, 2 runs", rec.Code, c.runs.Load())
		}
	})
	if logs.Len() > 0 {
		t.Fatalf("a write the SDK retried was logged as failed:\n%s", logs.String())
	}
}
