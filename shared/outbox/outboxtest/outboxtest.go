// Package outboxtest reads a table's outbox items in integration tests, and
// checks every event in them against the catalog, so that a producer's
// tests prove both that its change and its events commit together and that
// what it writes is what the schemas promise.
//
//	items := outboxtest.Read(t, db, table)
//	if len(items) != 1 || items[0].Events[0].Type() != "shop.order.created.v1" { ... }
package outboxtest

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/store"
)

// Item is an outbox item as stored.
type Item struct {
	Key     string // its pk
	Events  []event.Event
	Expires time.Time // its ttl
}

// Types returns the types of the item's events, in order.
func (it Item) Types() []string {
	out := make([]string, len(it.Events))
	for i, e := range it.Events {
		out[i] = e.Type()
	}
	return out
}

// Read returns every outbox item in table, ordered by key (a strongly
// consistent scan). It fails the test for an item that does not decode,
// whose key is not its first event's, or with an event that breaks its
// schema.
func Read(t testing.TB, db *dynamodb.Client, table string) []Item {
	t.Helper()
	var items []Item
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{
			TableName:                 aws.String(table),
			FilterExpression:          aws.String("begins_with(#pk, :outbox)"),
			ExpressionAttributeNames:  map[string]string{"#pk": store.PK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":outbox": store.S(outbox.KeyPrefix)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			t.Fatalf("scan outbox of %s: %v", table, err)
		}
		for _, raw := range out.Items {
			items = append(items, decode(t, raw))
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
	return items
}

func decode(t testing.TB, raw map[string]types.AttributeValue) Item {
	t.Helper()
	pk, _ := raw[store.PK].(*types.AttributeValueMemberS)
	sk, _ := raw[store.SK].(*types.AttributeValueMemberS)
	body, _ := raw[outbox.AttrEvents].(*types.AttributeValueMemberS)
	ttl, _ := raw[outbox.AttrTTL].(*types.AttributeValueMemberN)
	if pk == nil || sk == nil || sk.Value != outbox.SortKey || body == nil || ttl == nil {
		t.Fatalf("malformed outbox item %v", raw)
	}
	events, err := outbox.Decode(body.Value)
	if err != nil {
		t.Fatalf("outbox item %s: %v", pk.Value, err)
	}
	if want := outbox.KeyPrefix + events[0].ID(); pk.Value != want {
		t.Errorf("outbox item %s: key is not its first event's (%s)", pk.Value, want)
	}
	var list []json.RawMessage
	_ = json.Unmarshal([]byte(body.Value), &list)
	for i, e := range list {
		if err := explain.ValidateEvent(e); err != nil {
			t.Errorf("outbox item %s, event %d: %v", pk.Value, i, err)
		}
	}
	secs, err := strconv.ParseInt(ttl.Value, 10, 64)
	if err != nil {
		t.Fatalf("outbox item %s: ttl %q", pk.Value, ttl.Value)
	}
	return Item{Key: pk.Value, Events: events, Expires: time.Unix(secs, 0)}
}

// Data unmarshals e's data into a map, for comparisons.
func Data(t testing.TB, e event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data(), &m); err != nil {
		t.Fatalf("event %s data: %v", e.ID(), err)
	}
	return m
}
