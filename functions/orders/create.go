package orders

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Limits of an order.
const (
	MaxItems    = 50   // lines per order; also the catalog's batch read limit
	MaxQuantity = 1000 // units per line
)

// CreateRequest is the body of POST /v1/orders.
type CreateRequest struct {
	Items         []ItemRequest `json:"items" validate:"required,min=1,max=50,dive"`
	PaymentMethod PaymentMethod `json:"paymentMethod"` // absent: its token is reported missing
}

// ItemRequest is one line as the customer asks for it: prices and names
// come from the catalog, never from the client.
type ItemRequest struct {
	ProductID string `json:"productId" validate:"required"`
	Quantity  int64  `json:"quantity" validate:"gte=1,lte=1000"`
}

// PaymentMethod is the payment provider's token for the customer's means
// of payment ("tok_visa").
type PaymentMethod struct {
	Token string `json:"token" validate:"required,max=255,printascii"`
}

// Validate checks what tags cannot say: a product id is a catalog id (a
// canonical UUID), and each product appears once.
func (c CreateRequest) Validate() error {
	var fields []problem.FieldError
	seen := make(map[string]bool, len(c.Items))
	for i, it := range c.Items {
		field := fmt.Sprintf("items[%d].productId", i)
		switch {
		case !httpapi.IsID(it.ProductID):
			fields = append(fields, problem.FieldError{Field: field, Message: "must be a product id (a lower-case UUID)"})
		case seen[it.ProductID]:
			fields = append(fields, problem.FieldError{Field: field, Message: "appears twice: order a product once, with the quantity you want"})
		}
		seen[it.ProductID] = true
	}
	if len(fields) > 0 {
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: "request failed validation", Fields: fields}
	}
	return nil
}

// orderIDSpace is the namespace of order ids (RFC 9562 name-based UUIDs).
var orderIDSpace = uuid.MustParse("6f1d3a2e-8c4b-4e0f-9a57-0b2c7d9e4f13")

// OrderID is the id of the order user places with Idempotency-Key key: a
// UUIDv8 from SHA-256 of both (RFC 9562's name-based form with a modern
// hash), so a retried POST finds the order, and the saga execution named
// after it, that its first attempt made, even when that attempt's answer
// was lost and its idempotency record released.
func OrderID(userID, key string) string {
	return uuid.NewHash(sha256.New(), orderIDSpace, []byte(userID+"\x00"+key), 8).String()
}

// Create handles POST /v1/orders: 202 with the order, PENDING, and its saga
// started. Only a customer places an order, for themself; the route
// requires an Idempotency-Key (wired in its main), from which, with the
// customer, the order id is derived. A retry whose first attempt stored the
// order (its answer lost, or the saga's start failed) finds it and starts
// the saga again, which starts it at most once (Saga.Start).
func Create(st *Store, users Users, catalog Catalog, saga *Saga) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		p, ok := principal.FromContext(ctx)
		if !ok || p.Kind != principal.KindUser {
			return httpapi.Errorf(http.StatusForbidden, "orders are placed by customers, with a user token")
		}
		key := r.Header.Get(httpapi.HeaderIdempotencyKey)
		if key == "" {
			return httpapi.Errorf(http.StatusBadRequest, "send an Idempotency-Key header: placing an order must be safe to retry")
		}
		var req CreateRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		id := OrderID(p.Subject, key)
		tracing.Annotate(ctx, tracing.AnnotationOrderID, id)
		// A retry finds the order an earlier attempt placed and answers it
		// without asking users and the catalog again. A first attempt
		// (shared/idempotency found no record of its key) has nothing to
		// find and skips the read: one round trip less on every order.
		// Should an earlier attempt have placed it all the same (its key
		// released after a failure), place meets it through the
		// transaction's condition.
		var (
			o   Order
			err error = ErrOrderNotFound
		)
		if !idempotency.FirstAttempt(ctx) {
			o, err = st.Get(ctx, id)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrOrderNotFound):
			if o, err = place(ctx, st, users, catalog, id, p.Subject, req); err != nil {
				return err
			}
		default:
			return err
		}
		if !req.placed(o) {
			return errs.HTTP(ErrKeyReused)
		}
		if err := saga.Start(ctx, o.ID, PlaceInput(o)); err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/orders/"+o.ID)
		httpapi.WriteVersioned(w, http.StatusAccepted, o.Version, o)
		return nil
	})
}

// placed reports whether o is the order req places: the same products and
// quantities, in the same order, and the same payment token.
func (c CreateRequest) placed(o Order) bool {
	if len(c.Items) != len(o.Items) || c.PaymentMethod.Token != o.PaymentToken {
		return false
	}
	for i, it := range c.Items {
		if it.ProductID != o.Items[i].ProductID || it.Quantity != o.Items[i].Quantity {
			return false
		}
	}
	return true
}

// place reads the customer and the catalog, both at once, prices the lines and
// stores the order, with the customer's name. A concurrent attempt that stored it first wins: its
// order is returned.
func place(ctx context.Context, st *Store, users Users, catalog Catalog, id, userID string, req CreateRequest) (Order, error) {
	ids := make([]string, len(req.Items))
	for i, it := range req.Items {
		ids[i] = it.ProductID
	}
	// The two calls run side by side, each bounded by its client's
	// timeouts; neither cancels the other, so each error is its own.
	var (
		wg              sync.WaitGroup
		userErr, catErr error
		customer        Customer
		products        []Product
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		customer, userErr = users.Customer(ctx, userID)
	}()
	go func() {
		defer wg.Done()
		products, catErr = catalog.Products(ctx, ids)
	}()
	wg.Wait()
	// The customer's own mistakes first, then the dependencies'.
	switch {
	case errors.Is(userErr, ErrUnknownUser):
		return Order{}, errs.HTTP(userErr)
	case userErr != nil:
		return Order{}, dependencyError(userErr)
	case catErr != nil:
		return Order{}, dependencyError(catErr)
	}
	lines, total, err := price(req.Items, products)
	if err != nil {
		return Order{}, errs.HTTP(err)
	}
	o, err := st.Place(ctx, id, Placed{UserID: userID, CustomerName: customer.Name, CustomerVersion: customer.Version,
		Items: lines, Total: total, PaymentToken: req.PaymentMethod.Token})
	if errors.Is(err, ErrOrderExists) {
		return st.Get(ctx, id)
	}
	return o, err
}

// dependencyError answers for a users or catalog API that failed: 503 when
// it is unavailable (Retry-After when its breaker says), 502 otherwise,
// never its own words.
func dependencyError(err error) error { return client.HTTPError(err) }

// price turns the requested lines into priced ones with the catalog's
// products, and totals them. ErrUnknownProduct when a product is not in
// the catalog, ErrMixedCurrencies when the products' currencies differ,
// ErrTotalOutOfRange when the total does not fit.
func price(items []ItemRequest, products []Product) ([]Line, money.Money, error) {
	byID := make(map[string]Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	lines := make([]Line, len(items))
	var total money.Money
	for i, it := range items {
		p, ok := byID[it.ProductID]
		if !ok {
			return nil, money.Money{}, fmt.Errorf("%w: %s", ErrUnknownProduct, it.ProductID)
		}
		if i > 0 && p.Price.Currency != total.Currency {
			return nil, money.Money{}, fmt.Errorf("%w: %s and %s", ErrMixedCurrencies, total.Currency, p.Price.Currency)
		}
		sub, err := p.Price.MulInt(it.Quantity)
		if err == nil && i > 0 {
			sub, err = total.Add(sub)
		}
		if err != nil {
			return nil, money.Money{}, fmt.Errorf("%w: %w", ErrTotalOutOfRange, err)
		}
		total = sub
		lines[i] = Line{ProductID: p.ID, SKU: p.SKU, Name: p.Name, Quantity: it.Quantity, UnitPrice: p.Price}
	}
	return lines, total, nil
}
