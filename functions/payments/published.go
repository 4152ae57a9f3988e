package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/store"
)

// The events the payments service publishes (service.yaml publishes), each
// written to the outbox in the transaction that moves the payment to the
// status it announces (moveAnnounced).
const (
	TypeCharged  = "shop.payment.charged.v1"  // -> CHARGED
	TypeDeclined = "shop.payment.declined.v1" // -> DECLINED
	TypeRefunded = "shop.payment.refunded.v1" // -> REFUNDED
)

// Service is this service's name, which is its events' source
// (naming.EventSource).
const Service = "payments"

// announced is the event each status a payment moves to announces.
var announced = map[string]string{StatusCharged: TypeCharged, StatusDeclined: TypeDeclined, StatusRefunded: TypeRefunded}

type paymentData struct {
	OrderID string      `json:"orderId"`
	UserID  string      `json:"userId"`
	Amount  money.Money `json:"amount"`
}

// moveAnnounced moves the order's payment p (as read) to status, setting
// set too, if its status is one of from, and writes the event the status
// announces to the outbox in the same transaction: the event exists exactly
// when the move happened, once (its id is the type's and the order's, and
// a payment reaches each of these statuses once). errStatusMoved, with the
// payment as it stands, when its status was not one of from. Safe to retry
// (store.TransactWrite).
func (s *Store) moveAnnounced(ctx context.Context, p Payment, status string, set map[string]string, from ...string) (Payment, error) {
	typ := announced[status]
	if typ == "" || p.Amount == nil {
		return Payment{}, fmt.Errorf("payment %s: no event announces %s for an amount of %v", p.OrderID, status, p.Amount)
	}
	now := s.now()
	upd := setStatus(status).Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano))).
		Add(expression.Name(store.VersionAttr), expression.Value(1))
	for k, v := range set {
		upd = upd.Set(expression.Name(k), expression.Value(v))
	}
	operands := make([]expression.OperandBuilder, len(from))
	for i, f := range from {
		operands[i] = expression.Value(f)
	}
	cond := expression.AttributeExists(expression.Name(store.PK))
	if len(operands) == 1 {
		cond = cond.And(expression.Name("status").Equal(operands[0].(expression.ValueBuilder)))
	} else {
		cond = cond.And(expression.Name("status").In(operands[0], operands[1:]...))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return Payment{}, fmt.Errorf("build move of payment %s: %w", p.OrderID, err)
	}
	e, err := envelope.New(ctx, envelope.Spec{
		Type: typ, Source: naming.EventSource(Service), Subject: p.OrderID, ID: envelope.ID(typ, p.OrderID), Time: now,
		Data: paymentData{OrderID: p.OrderID, UserID: p.UserID, Amount: *p.Amount},
	})
	if err != nil {
		return Payment{}, fmt.Errorf("%s of payment %s: %w", typ, p.OrderID, err)
	}
	event, err := outbox.Item(s.table, e)
	if err != nil {
		return Payment{}, err
	}
	err = store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: paymentKey(p.OrderID),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}},
		event,
	}})
	if _, ok := store.TxConditionFailed(err); ok {
		// The status moved on (the event exists only once it has).
		now, gerr := s.Get(ctx, p.OrderID)
		if gerr != nil {
			return Payment{}, gerr
		}
		return now, errStatusMoved
	}
	if err != nil {
		// A conflicting transaction, or no answer: transient, the step is
		// retried and finds the payment as it is.
		return Payment{}, fmt.Errorf("move payment %s to %s: %w", p.OrderID, status, err)
	}
	p.Status, p.UpdatedAt, p.Version = status, now, p.Version+1
	if ref, ok := set["providerRef"]; ok {
		p.ProviderRef = ref
	}
	if ref, ok := set["refundRef"]; ok {
		p.RefundRef = ref
	}
	return p, nil
}
