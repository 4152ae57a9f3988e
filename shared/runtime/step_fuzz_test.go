package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

type fuzzStepInput struct {
	OrderID string `json:"orderId"`
	Items   []struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	} `json:"items,omitempty"`
	Amount *int64          `json:"amount,omitempty"`
	Extra  json.RawMessage `json:"extra,omitempty"`
}

// FuzzStepHandler feeds a Knative saga step (stepHandler: splitStepInput,
// then decodeStrict) arbitrary bodies. With a step that never fails, the
// answer is 200 with the step's output or 400 with a step error body
// (errorType and errorMessage, as a Lambda error), never a 5xx; the step
// runs exactly for the 200s; and what it got round-trips: encoded and
// strictly decoded again, with a traceHeader member added, it is the same.
func FuzzStepHandler(f *testing.F) {
	f.Add(`{"orderId":"o-1","items":[{"productId":"p","quantity":2}],"amount":5,"traceHeader":"Root=1-abc-def;Parent=1;Sampled=1"}`)
	f.Add(`{"orderId":"o-1","traceHeader":null}`)
	f.Add(`{"orderId":"o-1","traceHeader":7,"unknown":1}`)
	f.Add(`{"orderId":"o-1"} {"orderId":"o-2"}`)
	f.Add(`{"orderId":"o-1","orderId":"o-2","traceHeader":"a","traceHeader":"b"}`)
	f.Add(`{"ORDERID":"<&>","extra":{"a":[1,2,{"b":null}]}}`)
	f.Add(`[1]`)
	f.Add(`null`)
	f.Add(``)
	f.Add(`{"amount":1e400}`)
	f.Fuzz(func(t *testing.T, body string) {
		var seen *fuzzStepInput
		step := func(_ context.Context, in fuzzStepInput) (fuzzStepInput, error) {
			seen = &in
			return in, nil
		}
		rec := httptest.NewRecorder()
		stepHandler(step).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body)))
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			var e stepError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorType == "" || e.ErrorMessage == "" {
				t.Fatalf("400 without a step error: %s", rec.Body)
			}
			if seen != nil {
				t.Fatal("400, but the step ran")
			}
			return
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if seen == nil {
			t.Fatal("200, but the step never ran")
		}
		var out fuzzStepInput
		if err := decodeStrict(rec.Body.Bytes(), &out); err != nil || !reflect.DeepEqual(normal(t, out), normal(t, *seen)) {
			t.Fatalf("output %s is not the step's %+v: %v", rec.Body, *seen, err)
		}
		again := rec.Body.Bytes()
		again = append([]byte(`{"traceHeader":"Root=1-0-0",`), bytes.TrimPrefix(again, []byte("{"))...)
		if bytes.Equal(rec.Body.Bytes(), []byte("{}")) {
			again = []byte(`{"traceHeader":"Root=1-0-0"}`)
		}
		rest, env, err := splitStepInput(again)
		if err != nil || env.traceHeader != "Root=1-0-0" {
			t.Fatalf("re-sent %s: trace %q, %v", again, env.traceHeader, err)
		}
		var back fuzzStepInput
		if err := decodeStrict(rest, &back); err != nil || !reflect.DeepEqual(normal(t, back), normal(t, *seen)) {
			t.Fatalf("round trip: %+v -> %s -> %+v (%v)", *seen, again, back, err)
		}
	})
}

// normal is v as compact JSON: RawMessage keeps its input's spacing.
func normal(t *testing.T, v fuzzStepInput) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}
