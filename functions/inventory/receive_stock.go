package inventory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/store"
)

// TypeStockReceived is the event inventory-receive-stock consumes: a
// warehouse (an outside system, through the ingest endpoint) received a
// shipment of a product.
const TypeStockReceived = "shop.warehouse.stock.received.v1"

// ScopeEvents lets a sender deliver events to the inventory consumers over
// HTTP (Knative); on Lambda, events arrive through their queue.
const ScopeEvents = "inventory:events"

// stockReceived is the data of shop.warehouse.stock.received.v1.
type stockReceived struct {
	ProductID  string `json:"productId"`
	Quantity   int64  `json:"quantity"`
	ShipmentID string `json:"shipmentId"`
}

// Receipts: each received event leaves
//
//	RECEIPT#<len(source)>:<source>#<event id> / RECEIPT   {productId, quantity, shipmentId, receivedAt}
//
// written in the transaction that adds its quantity, and only if absent: a
// delivery is added to stock once, however often its event arrives (a
// redelivery, a replay from the archive, the sender posting it twice), and
// the receipts are the record of what came in.
const skReceipt = "RECEIPT"

type receiptItem struct {
	PK         string    `dynamodbav:"pk"`
	SK         string    `dynamodbav:"sk"`
	ProductID  string    `dynamodbav:"productId"`
	Quantity   int64     `dynamodbav:"quantity"`
	ShipmentID string    `dynamodbav:"shipmentId"`
	ReceivedAt time.Time `dynamodbav:"receivedAt"`
}

func receiptKey(source, id string) string {
	return "RECEIPT#" + strconv.Itoa(len(source)) + ":" + source + "#" + id
}

// ReceiveStock is the consumer inventory-receive-stock: a warehouse's
// delivery adds its quantity to the product's available stock, once per
// event (Store.ReceiveStock). A product the catalog does not have, or stock
// that would pass MaxStock, is a permanent failure: the event goes to the
// dead-letter queue for someone to look at, since no redelivery changes it.
func ReceiveStock(st *Store) func(context.Context, inbound.Event) error {
	return func(ctx context.Context, e inbound.Event) error {
		if e.Type != TypeStockReceived {
			return inbound.Permanent(fmt.Errorf("inventory-receive-stock does not consume %s", e.Type))
		}
		var d stockReceived
		if err := e.DataAs(&d); err != nil {
			return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
		}
		added, err := st.ReceiveStock(ctx, e.Source, e.ID, d)
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrStockLimit):
			return inbound.Permanent(fmt.Errorf("shipment %s of product %s: %w", d.ShipmentID, d.ProductID, err))
		case err != nil:
			return err
		case !added:
			log.FromContext(ctx).InfoContext(ctx, "inventory: shipment received before, stock unchanged", "productId", d.ProductID, "shipmentId", d.ShipmentID)
		default:
			log.FromContext(ctx).InfoContext(ctx, "inventory: shipment received", "productId", d.ProductID, "shipmentId", d.ShipmentID, "quantity", d.Quantity)
		}
		return nil
	}
}

// ReceiveStock adds d's quantity to the product's available stock unless the
// event (source, id) was received before, in one transaction: the receipt,
// put only if absent, and the product, updated only if it exists and stays
// within MaxStock. It reports whether this call added the stock (false:
// received before). ErrNotFound, ErrStockLimit. Safe to retry: the
// transaction's token makes DynamoDB answer a repeat of an applied one with
// its success (store.TransactWrite).
func (s *Store) ReceiveStock(ctx context.Context, source, id string, d stockReceived) (bool, error) {
	now := s.now()
	receipt, err := attributevalue.MarshalMap(receiptItem{PK: receiptKey(source, id), SK: skReceipt,
		ProductID: d.ProductID, Quantity: d.Quantity, ShipmentID: d.ShipmentID, ReceivedAt: now})
	if err != nil {
		return false, fmt.Errorf("marshal receipt: %w", err)
	}
	upd := expression.Add(expression.Name("available"), expression.Value(d.Quantity)).
		Add(expression.Name(store.VersionAttr), expression.Value(1)).
		Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano)))
	cond := expression.AttributeExists(expression.Name(store.PK)).
		And(expression.Name("available").LessThanEqual(expression.Value(MaxStock - d.Quantity)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("build stock receipt: %w", err)
	}
	err = s.transact(ctx, []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: receipt,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": store.PK},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: productKey(d.ProductID),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) == 2 {
		receiptReason, productReason := tce.CancellationReasons[0], tce.CancellationReasons[1]
		switch {
		case aws.ToString(receiptReason.Code) == "ConditionalCheckFailed":
			return false, nil // received before
		case aws.ToString(productReason.Code) == "ConditionalCheckFailed" && len(productReason.Item) == 0:
			return false, ErrNotFound
		case aws.ToString(productReason.Code) == "ConditionalCheckFailed":
			return false, ErrStockLimit
		}
	}
	if err != nil {
		return false, fmt.Errorf("receive stock of product %s: %w", d.ProductID, err)
	}
	return true, nil
}
