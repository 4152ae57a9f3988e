// Package inventory is the inventory service: the product catalog with
// prices, and stock (available and reserved). Each operation is one function
// under functions/inventory/<op> whose handler is in this package, one file
// per operation (create.go, get.go, list.go, update.go, delete.go, adjust_stock.go, and the saga
// steps in steps.go); the DynamoDB code is in store.go, the reservations'
// in reservation.go, the events it publishes (through its outbox) in
// published.go, and the domain errors, with their HTTP statuses and Step
// Functions names, in errors.go.
package inventory

import (
	"time"

	"github.com/shop-serverless/shop/shared/money"
)

// Product is a catalog entry with its stock.
type Product struct {
	ID        string      `json:"id" dynamodbav:"id"`
	SKU       string      `json:"sku" dynamodbav:"sku"`
	Name      string      `json:"name" dynamodbav:"name"`
	Price     money.Money `json:"price" dynamodbav:"price"`
	Available int64       `json:"available" dynamodbav:"available"` // may be sold
	Reserved  int64       `json:"reserved" dynamodbav:"reserved"`   // held for orders in flight
	Sold      int64       `json:"sold" dynamodbav:"sold"`           // taken by confirmed orders (absent on old items: 0)
	// LowStockThreshold: a reservation that leaves available under it
	// announces inventory.stock.low (absent on old items:
	// DefaultLowStockThreshold).
	LowStockThreshold int64     `json:"lowStockThreshold" dynamodbav:"lowStockThreshold,omitempty"`
	CreatedAt         time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	Version           int64     `json:"version" dynamodbav:"version"`
	// DeletedAt marks a product deleted (DELETE /v1/products/{id}): kept for
	// the orders that name it, but no longer in the catalog, nor reservable.
	// No answer ever shows a deleted product, so it has no JSON name.
	DeletedAt *time.Time `json:"-" dynamodbav:"deletedAt,omitempty"`
}

// Deleted reports a product taken out of the catalog.
func (p Product) Deleted() bool { return p.DeletedAt != nil }

// MaxStock bounds stock levels and deltas so sums stay far from overflow.
const MaxStock = 1_000_000_000

// DefaultLowStockThreshold is a product's LowStockThreshold when its
// creator gave none.
const DefaultLowStockThreshold = 5
