package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
	"github.com/shop-serverless/shop/shared/testenv"
)

// newEvent builds an event of typ from the catalog's example, with id.
func newEvent(t *testing.T, typ, id string) event.Event {
	t.Helper()
	raw, err := catalog.Example(typ)
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Source, Subject string
		Data            json.RawMessage
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	e, err := envelope.New(context.Background(), envelope.Spec{Type: typ, Source: ex.Source, Subject: ex.Subject, ID: id, Data: ex.Data})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestItemHoldsTheEventsInOrder(t *testing.T) {
	reserved := newEvent(t, "shop.inventory.reserved.v1", "ev-1")
	low := newEvent(t, "shop.inventory.stock.low.v1", "ev-2")
	before := time.Now()
	op, err := outbox.Item("shop-inventory", reserved, low)
	if err != nil {
		t.Fatal(err)
	}
	put := op.Put
	if put == nil || op.Update != nil || op.ConditionCheck != nil || op.Delete != nil {
		t.Fatalf("operation %+v, want a Put", op)
	}
	if aws.ToString(put.TableName) != "shop-inventory" || aws.ToString(put.ConditionExpression) != "attribute_not_exists(#pk)" || put.ExpressionAttributeNames["#pk"] != "pk" {
		t.Errorf("put %+v", put)
	}
	if pk := put.Item["pk"].(*types.AttributeValueMemberS).Value; pk != "OUTBOX#ev-1" {
		t.Errorf("pk %s", pk)
	}
	if sk := put.Item["sk"].(*types.AttributeValueMemberS).Value; sk != "OUTBOX" {
		t.Errorf("sk %s", sk)
	}
	ttl, _ := strconv.ParseInt(put.Item["ttl"].(*types.AttributeValueMemberN).Value, 10, 64)
	if exp := time.Unix(ttl, 0); exp.Before(before.Add(outbox.TTL).Add(-time.Second)) || exp.After(time.Now().Add(outbox.TTL)) {
		t.Errorf("ttl %v, want %v from now", exp, outbox.TTL)
	}
	got, err := outbox.Decode(put.Item["events"].(*types.AttributeValueMemberS).Value)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID() != "ev-1" || got[1].ID() != "ev-2" || got[1].Type() != "shop.inventory.stock.low.v1" {
		t.Fatalf("decoded %v", got)
	}
	for i, want := range []event.Event{reserved, low} {
		a, _ := json.Marshal(got[i])
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Errorf("event %d round-trips as %s, want %s", i, a, b)
		}
	}
}

func TestItemRefusesWhatCannotBePublished(t *testing.T) {
	good := newEvent(t, "shop.order.confirmed.v1", "ev-1")
	noID := good.Clone()
	noID.SetID("")
	pad := func(e event.Event, n int) event.Event {
		e = e.Clone()
		e.SetExtension("padding", strings.Repeat("x", n))
		return e
	}
	big := pad(good, 200*1024) // each under the entry limit, two over the item limit
	big2 := big.Clone()
	big2.SetID("ev-2")
	tests := []struct {
		name   string
		events []event.Event
		want   error
		text   string
	}{
		{"no events", nil, outbox.ErrNoEvents, ""},
		{"an invalid event", []event.Event{good, noID}, envelope.ErrInvalid, "id"},
		{"an event over the entry limit", []event.Event{pad(good, envelope.MaxEntryBytes)}, envelope.ErrInvalid, "over the 262144-byte limit"},
		{"events over the item limit", []event.Event{big, big2}, envelope.ErrInvalid, "over DynamoDB's 409600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := outbox.Item("t", tt.events...)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Item = %v, want %v saying %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestDecodeRefusesWhatIsNotAnEventList(t *testing.T) {
	for _, body := range []string{``, `{}`, `[]`, `[1]`, `["x"]`, `[{"specversion":`} {
		if _, err := outbox.Decode(body); err == nil {
			t.Errorf("Decode(%q) succeeded", body)
		}
	}
}

func TestFilterPatternLetsOnlyOutboxInsertsThrough(t *testing.T) {
	var p struct {
		EventName []string `json:"eventName"`
		DynamoDB  struct {
			NewImage struct {
				PK struct {
					S []struct {
						Prefix string `json:"prefix"`
					} `json:"S"`
				} `json:"pk"`
			} `json:"NewImage"`
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(outbox.FilterPattern), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.EventName) != 1 || p.EventName[0] != "INSERT" || len(p.DynamoDB.NewImage.PK.S) != 1 || p.DynamoDB.NewImage.PK.S[0].Prefix != outbox.KeyPrefix {
		t.Errorf("FilterPattern %s", outbox.FilterPattern)
	}
}

// Every service's table keeps its expiry in the attribute outbox items use.
func TestTablesExpireOutboxItems(t *testing.T) {
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range set.Services {
		if len(svc.Publishes) > 0 && svc.Table.TTL != outbox.AttrTTL {
			t.Errorf("%s publishes, but its table's ttl is %q, not %q", svc.Name, svc.Table.TTL, outbox.AttrTTL)
		}
	}
}

// Producers link this package: no catalog, no bus client.
func TestLinksNeitherTheCatalogNorAClient(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/outbox",
		"github.com/shop-serverless/shop/events", "github.com/santhosh-tekuri/jsonschema",
		"github.com/aws/aws-sdk-go-v2/service/eventbridge", "github.com/aws/aws-sdk-go-v2/service/sqs",
		"github.com/cloudevents/sdk-go/v2/client", "github.com/cloudevents/sdk-go/v2/protocol")
}

// On DynamoDB: the item commits with the change it is written beside, and
// a second item for the same first event is refused, cancelling the whole
// transaction.
func TestItemCommitsWithItsChange(t *testing.T) {
	db, table := storetest.Table(t, "orders")
	ctx := context.Background()
	write := func(change string, events ...event.Event) error {
		put, err := outbox.Item(table, events...)
		if err != nil {
			t.Fatal(err)
		}
		state := store.Key("TEST#"+change, "STATE")
		return store.TransactWrite(ctx, db, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(table), Item: state,
				ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			put,
		}})
	}
	e1 := newEvent(t, "shop.order.confirmed.v1", "ev-1")
	if err := write("a", e1, newEvent(t, "shop.order.cancelled.v1", "ev-2")); err != nil {
		t.Fatal(err)
	}
	// The change is refused: no outbox item.
	if err := write("a", newEvent(t, "shop.order.confirmed.v1", "ev-3")); err == nil {
		t.Fatal("a change over an existing one committed")
	}
	// The outbox item is taken: the change does not commit either.
	if err := write("b", e1); err == nil {
		t.Fatal("a second outbox item for ev-1 committed")
	}
	if _, err := store.Get(ctx, db, table, store.Key("TEST#b", "STATE")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("change b committed without its event: %v", err)
	}
	items := outboxtest.Read(t, db, table)
	if len(items) != 1 || items[0].Key != "OUTBOX#ev-1" || fmt.Sprint(items[0].Types()) != "[shop.order.confirmed.v1 shop.order.cancelled.v1]" {
		t.Errorf("outbox %+v", items)
	}
}
