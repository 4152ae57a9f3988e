package stepfn

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/store"
)

// switchDB holds fault switches by pk and sk.
type switchDB struct {
	store.DB
	items map[string]store.Item
}

func keyOf(k store.Item) string {
	pk, _ := k[store.PK].(*types.AttributeValueMemberS)
	sk, _ := k[store.SK].(*types.AttributeValueMemberS)
	return pk.Value + "|" + sk.Value
}

func (s *switchDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: s.items[keyOf(in.Key)]}, nil
}

func (s *switchDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.items[keyOf(in.Item)] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

type stepIn struct {
	OrderID string `json:"orderId"`
}

// Every step gets its function's fault, keyed by the input's order id,
// before it runs.
func TestWithFaultsKeysByOrderID(t *testing.T) {
	ctx := context.Background()
	t.Setenv(faults.EnvSwitch, "1")
	db := &switchDB{items: map[string]store.Item{}}
	if err := faults.Set(ctx, db, "orders", "inventory-reserve", faults.Fault{Mode: faults.ModeError, Key: "order-1"}); err != nil {
		t.Fatal(err)
	}
	ran := 0
	step := WithFaults(faults.New(db, "orders", "inventory-reserve"), func(context.Context, stepIn) (int, error) {
		ran++
		return 1, nil
	})
	var injected *faults.InjectedError
	if _, err := step(ctx, stepIn{OrderID: "order-1"}); !errors.As(err, &injected) || ran != 0 {
		t.Errorf("order-1: %v, ran %d times; want the injected fault, before the step", err, ran)
	}
	if out, err := step(ctx, stepIn{OrderID: "order-2"}); err != nil || out != 1 || ran != 1 {
		t.Errorf("order-2: %d, %v; want the step's answer", out, err)
	}

	t.Setenv(faults.EnvSwitch, "")
	plain := func(context.Context, stepIn) (int, error) { return 2, nil }
	if out, err := WithFaults(faults.New(db, "orders", "inventory-reserve"), plain)(ctx, stepIn{OrderID: "order-1"}); err != nil || out != 2 {
		t.Errorf("switch off: %d, %v; want the step itself", out, err)
	}
}
