package inventory

import (
	"context"
	"fmt"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// The saga steps (kind step): each is idempotent on the order id, so a
// repeat changes nothing and answers what the first call answered.

// ReserveIn is the input of inventory-reserve.
type ReserveIn struct {
	OrderID string `json:"orderId"`
	Items   []Line `json:"items"`
}

// OrderIn is the input of inventory-release, -commit and -restock.
type OrderIn struct {
	OrderID string `json:"orderId"`
}

// StepOut is every inventory step's output; Status is RESERVED, RELEASED,
// COMMITTED or RESTOCKED.
type StepOut struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
}

func checkOrderID(id string) error {
	if !validOrderID(id) {
		return fmt.Errorf("%w: orderId must be 1 to 128 letters, digits, '_' or '-'", ErrInvalidStepInput)
	}
	return nil
}

// Validate checks a reservation request: 1 to MaxLines lines, each a
// product id (a lowercase UUID) at most once, with 1 to MaxLineQuantity
// units. A product twice would be two updates of one item in a transaction,
// which DynamoDB refuses.
func (in ReserveIn) Validate() error {
	if err := checkOrderID(in.OrderID); err != nil {
		return err
	}
	if len(in.Items) < 1 || len(in.Items) > MaxLines {
		return fmt.Errorf("%w: items must hold 1 to %d lines, not %d", ErrInvalidStepInput, MaxLines, len(in.Items))
	}
	seen := make(map[string]bool, len(in.Items))
	for i, l := range in.Items {
		if !httpapi.IsID(l.ProductID) {
			return fmt.Errorf("%w: items[%d].productId is not a product id", ErrInvalidStepInput, i)
		}
		if seen[l.ProductID] {
			return fmt.Errorf("%w: items[%d].productId appears twice", ErrInvalidStepInput, i)
		}
		seen[l.ProductID] = true
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return fmt.Errorf("%w: items[%d].quantity must be 1 to %d", ErrInvalidStepInput, i, MaxLineQuantity)
		}
	}
	return nil
}

// Reserve is the inventory-reserve step: every line's stock, or none
// (InsufficientStock, ProductNotFound; ReservationReleased after a release).
func Reserve(st *Store) func(context.Context, ReserveIn) (StepOut, error) {
	return func(ctx context.Context, in ReserveIn) (StepOut, error) {
		if err := in.Validate(); err != nil {
			return StepOut{}, err
		}
		if err := st.Reserve(ctx, in.OrderID, in.Items); err != nil {
			return StepOut{}, err
		}
		return StepOut{OrderID: in.OrderID, Status: StatusReserved}, nil
	}
}

// Release is the inventory-release step: the reserved stock back to
// available; a tombstone when nothing was reserved. It has no domain error.
func Release(st *Store) func(context.Context, OrderIn) (StepOut, error) {
	return orderStep(st.Release, StatusReleased)
}

// Commit is the inventory-commit step: reserved stock becomes sold
// (ReservationNotFound when the order holds none).
func Commit(st *Store) func(context.Context, OrderIn) (StepOut, error) {
	return orderStep(st.Commit, StatusCommitted)
}

// Restock is the inventory-restock step: sold stock back to available after
// a cancel (ReservationNotCommitted while the commit has yet to run,
// ReservationNotFound when the order holds none).
func Restock(st *Store) func(context.Context, OrderIn) (StepOut, error) {
	return orderStep(st.Restock, StatusRestocked)
}

func orderStep(op func(context.Context, string) error, status string) func(context.Context, OrderIn) (StepOut, error) {
	return func(ctx context.Context, in OrderIn) (StepOut, error) {
		if err := checkOrderID(in.OrderID); err != nil {
			return StepOut{}, err
		}
		if err := op(ctx, in.OrderID); err != nil {
			return StepOut{}, err
		}
		return StepOut{OrderID: in.OrderID, Status: status}, nil
	}
}

// StepScope is what a Knative caller's service token must grant to run an
// inventory step (on Lambda, IAM decides who may invoke it).
const StepScope = "inventory:saga"
