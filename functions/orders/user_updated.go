package orders

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/store"
)

// TypeUserUpdated is the event orders-user-updated consumes.
const TypeUserUpdated = "shop.user.updated.v1"

// ScopeEvents lets a sender deliver events to the orders consumers over
// HTTP (Knative); on Lambda, events arrive through their queue.
const ScopeEvents = "orders:events"

// userUpdated is the data of shop.user.updated.v1, as far as orders reads it.
type userUpdated struct {
	UserID  string `json:"userId"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// UserUpdated is the consumer orders-user-updated: a user's name, as of a
// version of the user, reaches the customer name of each of their live
// orders (PENDING or CONFIRMED) that saw an older version. The rename is a
// CustomerRenamed event of the order, appended like every other change
// (Store.change), so the events still rebuild the state item; and since it
// carries the version, a late older user.updated changes nothing, nor does
// the same event twice. Every accepted user update has a new version, so
// the order records it even when the name stayed the same: an older update
// with another name arriving later must not win over it.
func UserUpdated(st *Store) func(context.Context, inbound.Event) error {
	return func(ctx context.Context, e inbound.Event) error {
		if e.Type != TypeUserUpdated {
			return inbound.Permanent(fmt.Errorf("orders-user-updated does not consume %s", e.Type))
		}
		var d userUpdated
		if err := e.DataAs(&d); err != nil {
			return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
		}
		renamed, err := st.RenameCustomer(ctx, d.UserID, Customer{Name: d.Name, Version: d.Version})
		log.FromContext(ctx).InfoContext(ctx, "orders: customer renamed on their live orders", "userId", d.UserID, "userVersion", d.Version, "orders", renamed)
		return err
	}
}

// RenameCustomer appends CustomerRenamed to each live order of userID
// whose customer version is older than c's, and returns how many it
// changed. An order that another writer changes meanwhile is decided
// again; an error leaves the orders done so far renamed, and a retry skips
// them (their version is c's).
//
// The user's orders are found through gsi1, which DynamoDB updates a moment
// after the order: an order placed in that moment, with the user read
// before the update, keeps its older name. The window is the index's lag,
// far shorter than the time the event takes to get here.
func (s *Store) RenameCustomer(ctx context.Context, userID string, c Customer) (int, error) {
	live, err := s.liveOrders(ctx, userID)
	if err != nil {
		return 0, err
	}
	renamed := 0
	for _, o := range live {
		changed := false
		_, err := s.change(ctx, o.ID, &o, func(o Order) (*Event, error) {
			if o.Status == StatusCancelled || c.Version <= o.CustomerVersion {
				changed = false
				return nil, nil
			}
			changed = true
			return &Event{Type: EventCustomerRenamed, Customer: &c}, nil
		})
		if err != nil {
			return renamed, fmt.Errorf("rename the customer of order %s: %w", o.ID, err)
		}
		if changed {
			renamed++
		}
	}
	return renamed, nil
}

// liveOrders returns the user's orders that are not CANCELLED, as gsi1
// has them.
func (s *Store) liveOrders(ctx context.Context, userID string) ([]Order, error) {
	var live []Order
	var start store.Item
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(gsi1),
			KeyConditionExpression:    aws.String("#gpk = :user"),
			FilterExpression:          aws.String("#status <> :cancelled"),
			ExpressionAttributeNames:  map[string]string{"#gpk": "gsi1pk", "#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":user": store.S(userPK(userID)), ":cancelled": store.S(string(StatusCancelled))},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("query orders of user %s: %w", userID, err)
		}
		for _, item := range out.Items {
			var it stateItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("unmarshal order: %w", err)
			}
			live = append(live, it.Order)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return live, nil
		}
		start = out.LastEvaluatedKey
	}
}
