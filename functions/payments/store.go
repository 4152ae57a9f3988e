package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the payments table (see service.yaml):
//
//	PAYMENT#<orderId> / PAYMENT   the order's payment and its refund
//
// Status moves only forward, each move one conditional update on the
// status it leaves:
//
//	PENDING --charge 2xx--> CHARGED --refund--> REFUNDED
//	   |  \--charge 402---> DECLINED
//	   +--refund 200------> REFUNDED   (a charge whose answer was lost went through)
//	   +--refund 404------> NOT_CHARGED
//	(none) --refund-------> NOT_CHARGED (a charge arriving later is refused)
const skPayment = "PAYMENT"

// Payment statuses.
const (
	StatusPending    = "PENDING"
	StatusCharged    = "CHARGED"
	StatusDeclined   = "DECLINED"
	StatusRefunded   = "REFUNDED"
	StatusNotCharged = "NOT_CHARGED"
)

func paymentKey(orderID string) store.Item { return store.Key("PAYMENT#"+orderID, skPayment) }

// Payment is an order's payment.
type Payment struct {
	OrderID     string       `dynamodbav:"orderId"`
	UserID      string       `dynamodbav:"userId,omitempty"`
	Status      string       `dynamodbav:"status"`
	Amount      *money.Money `dynamodbav:"amount,omitempty"` // nil for a NOT_CHARGED written before any charge
	ProviderRef string       `dynamodbav:"providerRef,omitempty"`
	RefundRef   string       `dynamodbav:"refundRef,omitempty"`
	Attempts    int64        `dynamodbav:"attempts"` // charge calls made to the provider
	CreatedAt   time.Time    `dynamodbav:"createdAt"`
	UpdatedAt   time.Time    `dynamodbav:"updatedAt"`
	Version     int64        `dynamodbav:"version"`
}

type paymentItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	Payment
}

// Store persists payments in the service's table.
type Store struct {
	db    store.DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db store.DB, table string) *Store {
	return &Store{db: db, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// Get returns the order's payment, or ErrNotFound.
func (s *Store) Get(ctx context.Context, orderID string) (Payment, error) {
	item, err := store.Get(ctx, s.db, s.table, paymentKey(orderID))
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, ErrNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	return unmarshalPayment(item)
}

// create stores p (version 1) unless the order has a payment already:
// store.ErrAlreadyExists then. Safe to retry (store.PutNew).
func (s *Store) create(ctx context.Context, p Payment) (Payment, error) {
	now := s.now()
	p.CreatedAt, p.UpdatedAt, p.Version = now, now, 1
	item, err := attributevalue.MarshalMap(paymentItem{PK: "PAYMENT#" + p.OrderID, SK: skPayment, Payment: p})
	if err != nil {
		return Payment{}, fmt.Errorf("marshal payment: %w", err)
	}
	if err := store.PutNew(ctx, s.db, s.table, item); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// errStatusMoved: the payment was no longer in the status a move expected.
var errStatusMoved = errors.New("payment status moved")

// move applies update to the order's payment if its status is one of from,
// and returns the payment after it; errStatusMoved (with the payment as it
// stands) otherwise. Safe to retry (store.UpdateExisting).
func (s *Store) move(ctx context.Context, orderID string, update expression.UpdateBuilder, from ...string) (Payment, error) {
	update = update.Set(expression.Name("updatedAt"), expression.Value(s.now().Format(time.RFC3339Nano)))
	operands := make([]expression.OperandBuilder, len(from))
	for i, f := range from {
		operands[i] = expression.Value(f)
	}
	var cond expression.ConditionBuilder
	if len(operands) == 1 {
		cond = expression.Name("status").Equal(operands[0].(expression.ValueBuilder))
	} else {
		cond = expression.Name("status").In(operands[0], operands[1:]...)
	}
	item, err := store.UpdateExisting(ctx, s.db, s.table, paymentKey(orderID), update, cond)
	if errors.Is(err, store.ErrConditionFailed) {
		p, gerr := s.Get(ctx, orderID)
		if gerr != nil {
			return Payment{}, gerr
		}
		return p, errStatusMoved
	}
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, ErrNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	return unmarshalPayment(item)
}

func setStatus(status string) expression.UpdateBuilder {
	return expression.Set(expression.Name("status"), expression.Value(status))
}

func unmarshalPayment(item store.Item) (Payment, error) {
	var it paymentItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Payment{}, fmt.Errorf("unmarshal payment: %w", err)
	}
	return it.Payment, nil
}
