package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

const testKey = "sk_test_123"

func staticKey(context.Context) (string, error) { return testKey, nil }

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, table := storetest.Table(t, "provider")
	return NewStore(db, table)
}

func post(t *testing.T, h http.Handler, key, idem, body string) (int, ErrorBody, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var eb ErrorBody
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, eb, m
}

func chargeBody(ref, source string, amount int) string {
	b, _ := json.Marshal(ChargeRequest{Amount: int64(amount), Currency: "EUR", Source: source, Reference: ref})
	return string(b)
}

func TestChargeTokens(t *testing.T) {
	st := newTestStore(t)
	h := Charges(st, staticKey, Options{Hang: 1})
	cases := []struct {
		source string
		want   []int // the statuses of successive attempts with one key
		code   string
	}{
		{TokenVisa, []int{201, 201}, ""},
		{TokenDeclined, []int{402, 402}, "card_declined"},
		{TokenError, []int{500, 500}, ""},
		{TokenFlaky, []int{503, 503, 201, 201}, ""},
		{TokenTimeout, []int{201, 201}, ""}, // late: Hang, shortened here
		{"tok_unknown", []int{400}, "invalid_source"},
	}
	for _, c := range cases {
		t.Run(c.source, func(t *testing.T) {
			ref := uuid.NewString()
			var firstID any
			for i, want := range c.want {
				code, eb, m := post(t, h, testKey, ref, chargeBody(ref, c.source, 1998))
				if code != want || (c.code != "" && eb.Error.Code != c.code) {
					t.Fatalf("attempt %d: %d %+v, want %d %s", i+1, code, eb, want, c.code)
				}
				if code == 201 {
					if firstID == nil {
						firstID = m["id"]
					}
					if m["id"] != firstID || m["amount"] != 1998.0 || m["status"] != "succeeded" {
						t.Fatalf("attempt %d: %v; want the same charge %v", i+1, m, firstID)
					}
				}
			}
			rec, err := st.GetCharge(context.Background(), ref)
			switch {
			case c.source == "tok_unknown":
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("an invalid source was recorded: %+v, %v", rec, err)
				}
			case err != nil:
				t.Fatal(err)
			case rec.Attempts != int64(len(c.want)):
				t.Fatalf("attempts = %d, want %d", rec.Attempts, len(c.want))
			}
		})
	}
}

func TestChargeOncePerReference(t *testing.T) {
	st := newTestStore(t)
	h := Charges(st, staticKey, Options{})
	ref := uuid.NewString()
	_, _, first := post(t, h, testKey, "key-1", chargeBody(ref, TokenVisa, 500))
	// Another key, another amount, the same reference: the same charge.
	code, _, again := post(t, h, testKey, "key-2", chargeBody(ref, TokenVisa, 900))
	if code != 201 || again["id"] != first["id"] || again["amount"] != 500.0 {
		t.Fatalf("second charge of a reference = %d %v, want the first %v", code, again, first)
	}
}

func TestAuthorization(t *testing.T) {
	st := newTestStore(t)
	for name, h := range map[string]http.Handler{"charges": Charges(st, staticKey, Options{}), "refunds": Refunds(st, staticKey)} {
		for _, key := range []string{"", "wrong"} {
			if code, eb, _ := post(t, h, key, "k", chargeBody("r", TokenVisa, 1)); code != 401 || eb.Error.Code != "invalid_api_key" {
				t.Errorf("%s with key %q: %d %+v, want 401", name, key, code, eb)
			}
		}
	}
	failing := func(context.Context) (string, error) { return "", errors.New("secret unreadable") }
	if code, _, _ := post(t, Charges(st, failing, Options{}), testKey, "k", chargeBody("r", TokenVisa, 1)); code != 500 {
		t.Errorf("unreadable key: %d, want 500", code)
	}
}

func TestRefundBounds(t *testing.T) {
	st := newTestStore(t)
	charges, refunds := Charges(st, staticKey, Options{}), Refunds(st, staticKey)
	refund := func(ref string, amount int) (int, ErrorBody, map[string]any) {
		b, _ := json.Marshal(RefundRequest{Reference: ref, Amount: int64(amount)})
		return post(t, refunds, testKey, "refund-"+ref, string(b))
	}
	if code, eb, _ := refund(uuid.NewString(), 100); code != 404 || eb.Error.Code != "charge_not_found" {
		t.Fatalf("refund of nothing: %d %+v", code, eb)
	}
	declined := uuid.NewString()
	post(t, charges, testKey, declined, chargeBody(declined, TokenDeclined, 100))
	if code, _, _ := refund(declined, 100); code != 404 {
		t.Fatalf("refund of a declined charge: %d, want 404", code)
	}

	ref := uuid.NewString()
	post(t, charges, testKey, ref, chargeBody(ref, TokenVisa, 1000))
	if code, eb, _ := refund(ref, 1001); code != 400 || eb.Error.Code != "amount_too_large" {
		t.Fatalf("refund above the charge: %d %+v", code, eb)
	}
	code, _, first := refund(ref, 1000)
	if code != 200 || first["amount"] != 1000.0 {
		t.Fatalf("refund = %d %v", code, first)
	}
	if code, _, again := refund(ref, 400); code != 200 || again["id"] != first["id"] || again["amount"] != 1000.0 {
		t.Fatalf("second refund = %d %v, want the first %v", code, again, first)
	}
	rec, err := st.GetCharge(context.Background(), ref)
	if err != nil || rec.Refunds != 1 || rec.RefundedAmount != 1000 {
		t.Fatalf("record = %+v, %v; want refunded once, 1000", rec, err)
	}
}
