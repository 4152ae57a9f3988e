package idempotency

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/store/dynamostub"
)

// BenchmarkIdempotency is the Idempotency-Key middleware with its table
// behind dynamostub (the SDK's real client over loopback HTTP), against the
// bare handler it wraps:
//
//	bare      the handler alone: read a JSON body, answer 201 JSON
//	no-key    Wrap, no header on an operation where it is optional
//	first     a new key: the conditional PutItem claim, the handler, the
//	          UpdateItem storing the response (two round trips)
//	replay    a key already completed: the claim fails with the stored
//	          record, which is replayed (one round trip, the handler not run)
func BenchmarkIdempotency(b *testing.B) {
	const body = `{"sku":"SKU-0001","delta":5}`
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(in)
	})
	srv := dynamostub.New(b)
	mw := New(srv.Client(), "inventory", Options{Scope: "bench"})

	replayed := dynamostub.New(b)
	probe := httptest.NewRequest(http.MethodPost, "/v1/products/p-1/stock", nil)
	item, err := attributevalue.MarshalMap(record{
		PK: "IDEMPOTENCY#bench#...", SK: "IDEMPOTENCY", Status: statusCompleted, Hash: fingerprint(probe, []byte(body)),
		Expiry: time.Now().Add(time.Hour).Unix(), LockExpiry: time.Now().UnixMilli(),
		Response: &storedResp{Status: http.StatusCreated, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)},
	})
	if err != nil {
		b.Fatal(err)
	}
	replayed.AnswerStatus("PutItem", http.StatusBadRequest, dynamostub.ConditionFailed(item))
	replay := New(replayed.Client(), "inventory", Options{Scope: "bench"})

	for _, bc := range []struct {
		name string
		h    http.Handler
		key  string
	}{
		{"bare", handler, ""},
		{"no-key", mw.Wrap(handler), ""},
		{"first", mw.Wrap(handler), "5f0c4c1e-9a57-4c39-9f0e-7d2a9f3b7a11"},
		{"replay", replay.Wrap(handler), "5f0c4c1e-9a57-4c39-9f0e-7d2a9f3b7a11"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/products/p-1/stock", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				if bc.key != "" {
					r.Header.Set(httpapi.HeaderIdempotencyKey, bc.key)
				}
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, r)
				if rec.Code != http.StatusCreated || rec.Body.String() != body {
					b.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
				if bc.name == "replay" && rec.Header().Get(HeaderReplayed) != "true" {
					b.Fatal("not replayed")
				}
			}
		})
	}
	if srv.Calls("PutItem") == 0 || srv.Calls("UpdateItem") != srv.Calls("PutItem") {
		b.Fatalf("first: PutItem %d, UpdateItem %d; want one of each per request", srv.Calls("PutItem"), srv.Calls("UpdateItem"))
	}
}
