package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
	"github.com/shop-serverless/shop/shared/principal"
)

type fakeUsers struct {
	known map[string]bool
	err   error
	calls atomic.Int32
}

func (f *fakeUsers) Customer(_ context.Context, userID string) (Customer, error) {
	f.calls.Add(1)
	if f.err != nil {
		return Customer{}, f.err
	}
	if !f.known[userID] {
		return Customer{}, ErrUnknownUser
	}
	return Customer{Name: "Ada Lovelace", Version: 3}, nil
}

type fakeCatalog []Product

func (f fakeCatalog) Products(_ context.Context, ids []string) ([]Product, error) {
	var out []Product
	for _, id := range ids {
		for _, p := range f {
			if p.ID == id {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

type world struct {
	st    *Store
	users *fakeUsers
	exec  *fakeExecutions
	saga  *Saga
	user  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	user := uuid.NewString()
	exec := &fakeExecutions{}
	return &world{st: newTestStore(t), users: &fakeUsers{known: map[string]bool{user: true}}, exec: exec,
		saga: NewSaga(func() Executions { return exec }, testMachine), user: user}
}

var testCatalog = fakeCatalog{
	{ID: pA, SKU: "A", Name: "Ay", Price: money.Money{Amount: 999, Currency: "EUR"}},
	{ID: pB, SKU: "B", Name: "Bee", Price: money.Money{Amount: 250, Currency: "EUR"}},
	{ID: "0190a1b2-0000-7000-8000-0000000000d0", SKU: "D", Name: "Dollar", Price: money.Money{Amount: 100, Currency: "USD"}},
}

// do serves one request as p (nil: anonymous) and decodes a JSON answer.
func do(t *testing.T, h http.Handler, p *principal.Principal, method, target, key, body string, pattern string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	if p != nil {
		r = r.WithContext(principal.WithContext(r.Context(), *p))
	}
	mux := http.NewServeMux()
	mux.Handle(pattern, h)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func userP(id string) *principal.Principal {
	return &principal.Principal{Subject: id, Kind: principal.KindUser, Issuer: "shop-users"}
}

func orderBody(token string, lines ...string) string {
	return fmt.Sprintf(`{"items":[%s],"paymentMethod":{"token":%q}}`, strings.Join(lines, ","), token)
}

func line(id string, q int) string { return fmt.Sprintf(`{"productId":%q,"quantity":%d}`, id, q) }

// A first attempt (shared/idempotency found no record of its key) skips
// the read of the order; should an earlier attempt have placed it all the
// same (its key released after a failure), the transaction's condition
// finds it: the same order, its saga started once, and a key reused for
// another order refused.
func TestCreateFirstAttemptSkipsTheRead(t *testing.T) {
	w := newWorld(t)
	h := Create(w.st, w.users, testCatalog, w.saga)
	first := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(rw, r.WithContext(idempotency.WithFirstAttempt(r.Context())))
	})
	create := func(body string) (*httptest.ResponseRecorder, map[string]any) {
		return do(t, first, userP(w.user), http.MethodPost, "/v1/orders", "k1", body, "POST /v1/orders")
	}
	body := orderBody("tok_visa", line(pA, 2))
	rec, got := create(body)
	id := OrderID(w.user, "k1")
	if rec.Code != http.StatusAccepted || got["id"] != id {
		t.Fatalf("first attempt: status %d, id %v: %s", rec.Code, got["id"], rec.Body)
	}
	calls := w.users.calls.Load()
	rec, again := create(body)
	if rec.Code != http.StatusAccepted || again["id"] != id || w.exec.starts != 1 {
		t.Fatalf("again as a first attempt: status %d, id %v, %d executions", rec.Code, again["id"], w.exec.starts)
	}
	if n := w.users.calls.Load() - calls; n != 1 {
		t.Errorf("users asked %d times on a first attempt, want 1 (no read of the order before it)", n)
	}
	if rec, _ := create(orderBody("tok_visa", line(pA, 3))); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("key reused for another order on a first attempt: status %d, want 422", rec.Code)
	}
}

func TestCreate(t *testing.T) {
	w := newWorld(t)
	h := Create(w.st, w.users, testCatalog, w.saga)
	create := func(p *principal.Principal, key, body string) (*httptest.ResponseRecorder, map[string]any) {
		return do(t, h, p, http.MethodPost, "/v1/orders", key, body, "POST /v1/orders")
	}
	body := orderBody("tok_visa", line(pA, 2), line(pB, 1))
	rec, got := create(userP(w.user), "k1", body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	id := OrderID(w.user, "k1")
	if got["id"] != id || got["status"] != "PENDING" || got["userId"] != w.user || got["customerName"] != "Ada Lovelace" || rec.Header().Get("Location") != "/v1/orders/"+id {
		t.Fatalf("answer %v, Location %q", got, rec.Header().Get("Location"))
	}
	if _, leaked := got["customerVersion"]; leaked {
		t.Errorf("the customer's version is in the answer: %s", rec.Body)
	}
	if total := got["total"].(map[string]any); total["amount"] != float64(2248) || total["currency"] != "EUR" {
		t.Fatalf("total %v, want 22.48 EUR", total)
	}
	if _, leaked := got["paymentToken"]; leaked || strings.Contains(rec.Body.String(), "tok_visa") {
		t.Fatalf("the payment token is in the answer: %s", rec.Body)
	}
	items := got["items"].([]any)
	if first := items[0].(map[string]any); first["sku"] != "A" || first["name"] != "Ay" || first["unitPrice"].(map[string]any)["amount"] != float64(999) {
		t.Fatalf("line %v: want the catalog's sku, name and price", first)
	}

	// The same key again (its first answer lost, say): the same order, one
	// execution, and the users API is not asked again.
	calls := w.users.calls.Load()
	rec, again := create(userP(w.user), "k1", body)
	if rec.Code != http.StatusAccepted || again["id"] != id || w.exec.starts != 1 || w.users.calls.Load() != calls {
		t.Fatalf("retry: status %d, id %v, %d executions, %d user checks", rec.Code, again["id"], w.exec.starts, w.users.calls.Load()-calls)
	}
	// The same key for another order: refused.
	if rec, _ := create(userP(w.user), "k1", orderBody("tok_visa", line(pA, 3))); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("key reused for another order: status %d, want 422", rec.Code)
	}
	// The start failed the first time: the retry stores nothing new and starts it.
	w.exec.err = fmt.Errorf("throttled")
	if rec, _ := create(userP(w.user), "k2", body); rec.Code != http.StatusInternalServerError {
		t.Fatalf("start failed: status %d, want 500", rec.Code)
	}
	w.exec.err = nil
	if rec, _ := create(userP(w.user), "k2", body); rec.Code != http.StatusAccepted || w.exec.starts != 2 {
		t.Fatalf("retry after a failed start: status %d, %d executions", rec.Code, w.exec.starts)
	}

	for _, tt := range []struct {
		name, key, body string
		p               *principal.Principal
		status          int
	}{
		{"no Idempotency-Key", "", body, userP(w.user), http.StatusBadRequest},
		{"malformed body", "k3", `{"items":[`, userP(w.user), http.StatusBadRequest},
		{"a product twice", "k3", orderBody("tok_visa", line(pA, 1), line(pA, 1)), userP(w.user), http.StatusBadRequest},
		{"unknown user", "k3", body, userP(uuid.NewString()), http.StatusUnprocessableEntity},
		{"unknown product", "k3", orderBody("tok_visa", line("0190a1b2-0000-7000-8000-0000000000ff", 1)), userP(w.user), http.StatusUnprocessableEntity},
		{"mixed currencies", "k3", orderBody("tok_visa", line(pA, 1), line("0190a1b2-0000-7000-8000-0000000000d0", 1)), userP(w.user), http.StatusUnprocessableEntity},
		{"a service token", "k3", body, &principal.Principal{Subject: "operator", Kind: principal.KindService, Scopes: []string{ScopeRead}}, http.StatusForbidden},
	} {
		if rec, _ := create(tt.p, tt.key, tt.body); rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body)
		}
	}
	w.users.err = fmt.Errorf("users: %w", client.ErrUnavailable)
	if rec, _ := create(userP(w.user), "k4", body); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("users API unavailable: status %d, want 503", rec.Code)
	}
	if w.exec.starts != 2 {
		t.Errorf("%d executions after the refusals, want 2", w.exec.starts)
	}
	// Two orders placed (k1 and k2), each announced once, whatever the
	// retries; the refused requests announced nothing.
	placed := outboxOf(t, w.st)
	if len(placed) != 2 {
		t.Fatalf("%d outbox items, want 2: %+v", len(placed), placed)
	}
	for _, it := range placed {
		e := it.Events[0]
		if e.Type() != TypeOrderCreated || (e.Subject() != id && e.Subject() != OrderID(w.user, "k2")) {
			t.Errorf("outbox event %s %s", e.Type(), e.Subject())
		}
	}
	e := placed[0].Events[0]
	if e.Subject() != id {
		e = placed[1].Events[0]
	}
	data := outboxtest.Data(t, e)
	if data["customerName"] != "Ada Lovelace" || data["userId"] != w.user || data["orderId"] != id || len(data["items"].([]any)) != 2 ||
		!reflect.DeepEqual(data["total"], map[string]any{"amount": 2248.0, "currency": "EUR"}) {
		t.Errorf("order.created data %v", data)
	}
	if line := data["items"].([]any)[0].(map[string]any); line["sku"] != "A" || line["name"] != "Ay" || line["quantity"] != 2.0 {
		t.Errorf("order.created line %v", line)
	}
}

func TestGetListCancel(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	get := func(p *principal.Principal, id string) (*httptest.ResponseRecorder, map[string]any) {
		return do(t, Get(w.st), p, http.MethodGet, "/v1/orders/"+id, "", "", "GET /v1/orders/{id}")
	}
	cancel := func(p *principal.Principal, id string) (*httptest.ResponseRecorder, map[string]any) {
		return do(t, Cancel(w.st, w.saga), p, http.MethodPost, "/v1/orders/"+id+"/cancel", "c-"+uuid.NewString(), "", "POST /v1/orders/{id}/cancel")
	}
	pending, confirmed := placeOrder(t, w.st, w.user), placeOrder(t, w.st, w.user)
	if _, err := MarkConfirmed(w.st, nil)(ctx, StepIn{OrderID: confirmed.ID}); err != nil {
		t.Fatal(err)
	}

	if rec, got := get(userP(w.user), confirmed.ID); rec.Code != http.StatusOK || got["status"] != "CONFIRMED" || len(got["history"].([]any)) != 2 {
		t.Fatalf("owner: status %d, %v", rec.Code, got)
	}
	if rec, _ := get(&principal.Principal{Subject: "payments", Kind: principal.KindService, Scopes: []string{ScopeRead}}, pending.ID); rec.Code != http.StatusOK {
		t.Errorf("a service with %s: status %d", ScopeRead, rec.Code)
	}
	if rec, _ := get(userP(uuid.NewString()), pending.ID); rec.Code != http.StatusForbidden {
		t.Errorf("another user: status %d, want 403", rec.Code)
	}
	if rec, _ := get(userP(w.user), uuid.NewString()); rec.Code != http.StatusNotFound {
		t.Errorf("unknown order: status %d, want 404", rec.Code)
	}

	list := func(p *principal.Principal, target string) (*httptest.ResponseRecorder, map[string]any) {
		return do(t, List(w.st), p, http.MethodGet, target, "", "", "GET /v1/users/{id}/orders")
	}
	if rec, got := list(userP(w.user), "/v1/users/"+w.user+"/orders?limit=1"); rec.Code != http.StatusOK || len(got["items"].([]any)) != 1 || got["nextCursor"] == "" {
		t.Errorf("list: status %d, %v", rec.Code, got)
	}
	if rec, _ := list(userP(uuid.NewString()), "/v1/users/"+w.user+"/orders"); rec.Code != http.StatusForbidden {
		t.Errorf("another user's list: status %d, want 403", rec.Code)
	}
	if rec, _ := list(userP(w.user), "/v1/users/"+w.user+"/orders?cursor=nope"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad cursor: status %d, want 400", rec.Code)
	}

	// PENDING: recorded; the saga's confirm then refuses.
	if rec, got := cancel(userP(w.user), pending.ID); rec.Code != http.StatusAccepted || got["cancelRequested"] != true || got["status"] != "PENDING" {
		t.Fatalf("cancel pending: status %d, %v", rec.Code, got)
	}
	if _, err := MarkConfirmed(w.st, nil)(ctx, StepIn{OrderID: pending.ID}); !errors.Is(err, ErrCancelRequested) {
		t.Fatalf("confirm after a cancel request: err = %v, want ErrCancelRequested", err)
	}
	// CONFIRMED: recorded, and the cancel execution started, once.
	for range 2 {
		if rec, _ := cancel(userP(w.user), confirmed.ID); rec.Code != http.StatusAccepted {
			t.Fatalf("cancel confirmed: status %d: %s", rec.Code, rec.Body)
		}
	}
	if w.exec.starts != 1 || w.exec.inputs[strings.Replace(testMachine, ":stateMachine:", ":execution:", 1)+":"+confirmed.ID+cancelSuffix] == "" {
		t.Fatalf("cancel executions: %d, %v", w.exec.starts, w.exec.inputs)
	}
	if rec, _ := cancel(userP(uuid.NewString()), confirmed.ID); rec.Code != http.StatusForbidden {
		t.Errorf("another user's cancel: status %d, want 403", rec.Code)
	}
	// CANCELLED: 409.
	if _, err := MarkCancelled(w.st)(ctx, CancelStepIn{OrderID: pending.ID, Reason: ReasonCancelledByUser}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := cancel(userP(w.user), pending.ID); rec.Code != http.StatusConflict {
		t.Errorf("cancel a cancelled order: status %d, want 409", rec.Code)
	}
	wantRebuilt(t, w.st, pending.ID)
	wantRebuilt(t, w.st, confirmed.ID)
}
