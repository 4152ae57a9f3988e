package orders

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/problem"
)

const (
	pA = "0190a1b2-0000-7000-8000-00000000000a"
	pB = "0190a1b2-0000-7000-8000-00000000000b"
)

func TestOrderIDIsDeterministic(t *testing.T) {
	id := OrderID("u1", "key-1")
	if id != OrderID("u1", "key-1") {
		t.Fatal("the same user and key gave two ids")
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 || strings.ToLower(id) != id {
		t.Fatalf("OrderID = %q: want a canonical UUIDv8", id)
	}
	seen := map[string]string{id: "u1/key-1"}
	// Neither a key reused by another user nor a split that moves the
	// boundary between user and key names the same order.
	for _, c := range [][2]string{{"u2", "key-1"}, {"u1", "key-2"}, {"u1k", "ey-1"}, {"u1\x00k", "ey-1"}} {
		got := OrderID(c[0], c[1])
		if prev, dup := seen[got]; dup {
			t.Errorf("OrderID(%q, %q) = OrderID of %s", c[0], c[1], prev)
		}
		seen[got] = c[0] + "/" + c[1]
	}
}

func decodeCreate(body string) error {
	r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	var req CreateRequest
	return httpapi.Decode(r, &req)
}

func TestCreateRequestValidation(t *testing.T) {
	item := func(id string, q int) string { return fmt.Sprintf(`{"productId":%q,"quantity":%d}`, id, q) }
	body := func(items []string, token string) string {
		return fmt.Sprintf(`{"items":[%s],"paymentMethod":{"token":%q}}`, strings.Join(items, ","), token)
	}
	fifty := make([]string, 51)
	for i := range fifty {
		fifty[i] = item(fmt.Sprintf("0190a1b2-0000-7000-8000-%012d", i), 1)
	}
	for _, tt := range []struct {
		name, body string
		field      string // "" for a valid body
	}{
		{"valid", body([]string{item(pA, 1), item(pB, 1000)}, "tok_visa"), ""},
		{"fifty lines", body(fifty[:50], "tok_visa"), ""},
		{"no items", body(nil, "tok_visa"), "items"},
		{"items missing", `{"paymentMethod":{"token":"tok_visa"}}`, "items"},
		{"51 lines", body(fifty, "tok_visa"), "items"},
		{"quantity 0", body([]string{item(pA, 0)}, "tok_visa"), "items[0].quantity"},
		{"quantity 1001", body([]string{item(pA, 1001)}, "tok_visa"), "items[0].quantity"},
		{"a product twice", body([]string{item(pA, 1), item(pB, 1), item(pA, 2)}, "tok_visa"), "items[2].productId"},
		{"not a product id", body([]string{item("../admin", 1)}, "tok_visa"), "items[0].productId"},
		{"an upper-case id", body([]string{item(strings.ToUpper(pA), 1)}, "tok_visa"), "items[0].productId"},
		{"no token", body([]string{item(pA, 1)}, ""), "paymentMethod.token"},
		{"no payment method", `{"items":[` + item(pA, 1) + `]}`, "paymentMethod.token"},
		{"a token too long", body([]string{item(pA, 1)}, strings.Repeat("t", 256)), "paymentMethod.token"},
		{"a token with a newline", body([]string{item(pA, 1)}, "tok\nvisa"), "paymentMethod.token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeCreate(tt.body)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var he *httpapi.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
				t.Fatalf("err = %v, want a 400", err)
			}
			if !slices.ContainsFunc(he.Fields, func(f problem.FieldError) bool { return f.Field == tt.field }) {
				t.Fatalf("fields %+v, want one for %s", he.Fields, tt.field)
			}
		})
	}
	// Malformed JSON and unknown fields are 400s too.
	for _, b := range []string{`{"items":`, `{"items":[],"paymentMethod":{"token":"t"},"price":1}`, `[]`} {
		var he *httpapi.Error
		if err := decodeCreate(b); !errors.As(err, &he) || he.Status != http.StatusBadRequest {
			t.Errorf("%s: err = %v, want a 400", b, err)
		}
	}
}

func TestPrice(t *testing.T) {
	eur := func(n int64) money.Money { return money.Money{Amount: n, Currency: "EUR"} }
	catalog := []Product{
		{ID: pB, SKU: "B", Name: "Bee", Price: eur(250)},
		{ID: pA, SKU: "A", Name: "Ay", Price: eur(999)},
	}
	lines, total, err := price([]ItemRequest{{ProductID: pA, Quantity: 2}, {ProductID: pB, Quantity: 3}}, catalog)
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{{ProductID: pA, SKU: "A", Name: "Ay", Quantity: 2, UnitPrice: eur(999)}, {ProductID: pB, SKU: "B", Name: "Bee", Quantity: 3, UnitPrice: eur(250)}}
	if !slices.Equal(lines, want) || total != eur(2748) {
		t.Fatalf("price = %+v, %v; want %+v, 27.48 EUR", lines, total, want)
	}

	if _, _, err := price([]ItemRequest{{ProductID: pA, Quantity: 1}, {ProductID: "0190a1b2-0000-7000-8000-00000000000c", Quantity: 1}}, catalog); !errors.Is(err, ErrUnknownProduct) {
		t.Errorf("unknown product: err = %v", err)
	}
	usd := []Product{catalog[0], {ID: pA, SKU: "A", Name: "Ay", Price: money.Money{Amount: 100, Currency: "USD"}}}
	if _, _, err := price([]ItemRequest{{ProductID: pA, Quantity: 1}, {ProductID: pB, Quantity: 1}}, usd); !errors.Is(err, ErrMixedCurrencies) {
		t.Errorf("mixed currencies: err = %v", err)
	}
	huge := []Product{{ID: pA, Price: eur(1 << 62)}}
	if _, _, err := price([]ItemRequest{{ProductID: pA, Quantity: 1000}}, huge); !errors.Is(err, ErrTotalOutOfRange) {
		t.Errorf("overflow: err = %v", err)
	}
}
