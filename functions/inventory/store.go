package inventory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the inventory table (see service.yaml):
//
//	PRODUCT#<id> / PRODUCT   the product; gsi1: PRODUCT / <id> (UUIDv7: creation order)
//	SKU#<sku>    / SKU       uniqueness guard: exists iff a product owns the SKU
//	RESERVATION#<orderId> / RESERVATION   an order's hold on stock (reservation.go)
const (
	skProduct   = "PRODUCT"
	skSKU       = "SKU"
	gsi1        = "gsi1"
	gsi1Product = "PRODUCT"
)

// listCursorAttrs are the attributes of a gsi1 LastEvaluatedKey.
var listCursorAttrs = []string{store.PK, store.SK, "gsi1pk", "gsi1sk"}

func productKey(id string) store.Item { return store.Key("PRODUCT#"+id, skProduct) }

type productItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	GSI1PK string `dynamodbav:"gsi1pk"`
	GSI1SK string `dynamodbav:"gsi1sk"`
	Product
}

// Store persists products in the service's table.
type Store struct {
	db    store.DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db store.DB, table string) *Store {
	return &Store{db: db, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// Create stores p and claims its SKU in one transaction. ErrSKUTaken if the
// SKU belongs to another product.
func (s *Store) Create(ctx context.Context, p Product) (Product, error) {
	now := s.now()
	p.CreatedAt, p.UpdatedAt, p.Version, p.Reserved, p.Sold = now, now, 1, 0, 0
	if p.LowStockThreshold == 0 {
		p.LowStockThreshold = DefaultLowStockThreshold
	}
	item, err := attributevalue.MarshalMap(productItem{
		PK: "PRODUCT#" + p.ID, SK: skProduct, GSI1PK: gsi1Product, GSI1SK: p.ID, Product: p,
	})
	if err != nil {
		return Product{}, fmt.Errorf("marshal product: %w", err)
	}
	guard := store.Key("SKU#"+p.SKU, skSKU)
	guard["productId"] = store.S(p.ID)
	if err := store.PutNewAll(ctx, s.db, s.table, []store.Item{item, guard}, map[int]error{1: ErrSKUTaken}); err != nil {
		return Product{}, err
	}
	return p, nil
}

// Get returns the product with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Product, error) {
	item, err := store.Get(ctx, s.db, s.table, productKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return Product{}, ErrNotFound
	}
	if err != nil {
		return Product{}, err
	}
	p, err := unmarshalProduct(item)
	if err == nil && p.Deleted() {
		return Product{}, ErrNotFound
	}
	return p, err
}

// GetBySKU returns the product that owns sku, or ErrNotFound (none does, or
// it was deleted: a deleted product keeps its SKU, see Delete). Two reads:
// the SKU guard names the product, which is then read; the guard holds
// only the product's id, and no index is keyed by SKU, so one round trip
// would need a copy of every product in its guard, kept in step by every
// write.
func (s *Store) GetBySKU(ctx context.Context, sku string) (Product, error) {
	guard, err := store.Get(ctx, s.db, s.table, store.Key("SKU#"+sku, skSKU))
	if errors.Is(err, store.ErrNotFound) {
		return Product{}, ErrNotFound
	}
	if err != nil {
		return Product{}, err
	}
	id, ok := guard["productId"].(*types.AttributeValueMemberS)
	if !ok {
		return Product{}, fmt.Errorf("sku guard %s names no product", sku)
	}
	return s.Get(ctx, id.Value)
}

// ProductPatch is a partial update of a product: nil fields stay as they are.
type ProductPatch struct {
	Name              *string
	Price             *money.Money
	LowStockThreshold *int64
}

// Update applies patch to the product with id if its version is still
// expected, in one conditional UpdateItem, and returns the product as it
// is now. ErrNotFound when there is none (or it is deleted),
// ErrVersionMismatch when its version moved.
func (s *Store) Update(ctx context.Context, id string, expected int64, patch ProductPatch) (Product, error) {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(s.now().Format(time.RFC3339Nano)))
	if patch.Name != nil {
		upd = upd.Set(expression.Name("name"), expression.Value(*patch.Name))
	}
	if patch.Price != nil {
		upd = upd.Set(expression.Name("price"), expression.Value(*patch.Price))
	}
	if patch.LowStockThreshold != nil {
		upd = upd.Set(expression.Name("lowStockThreshold"), expression.Value(*patch.LowStockThreshold))
	}
	notDeleted := expression.AttributeNotExists(expression.Name("deletedAt"))
	item, err := store.UpdateVersioned(ctx, s.db, s.table, productKey(id), expected, upd, &notDeleted)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConditionFailed): // absent, or deleted at that version
		return Product{}, ErrNotFound
	case errors.Is(err, store.ErrVersionConflict):
		return Product{}, ErrVersionMismatch
	case err != nil:
		return Product{}, err
	}
	return unmarshalProduct(item)
}

// Delete takes the product with id out of the catalog, if its version is
// still expected and no stock of it is reserved, in one conditional
// UpdateItem: the reserve step conditions its stock move on the product
// not being deleted (moveStock), so a reservation and a delete of the
// same product are decided by DynamoDB, one after the other, with no
// window between a check and a write.
//
// The item stays (existing orders name it, and their release, commit and
// restock still move its stock) with deletedAt set; its gsi1 keys are
// removed, so the sparse index that lists the catalog no longer holds it.
// Its SKU guard stays too: the SKU keeps naming this product in the orders
// that have it, and is not given to a new one.
//
// Deleting a deleted product succeeds again, whatever version it is sent
// with, so that a client retrying a delete whose answer it lost is told it
// is done. ErrNotFound when there is no product, ErrVersionMismatch when
// its version moved, ErrHasReservations while stock of it is reserved.
func (s *Store) Delete(ctx context.Context, id string, expected int64) error {
	now := s.now().Format(time.RFC3339Nano)
	upd := expression.Set(expression.Name("deletedAt"), expression.Value(now)).
		Set(expression.Name("updatedAt"), expression.Value(now)).
		Set(expression.Name(store.VersionAttr), expression.Value(expected+1)).
		Remove(expression.Name("gsi1pk")).Remove(expression.Name("gsi1sk"))
	cond := expression.AttributeExists(expression.Name(store.PK)).
		And(expression.Name(store.VersionAttr).Equal(expression.Value(expected))).
		And(expression.AttributeNotExists(expression.Name("deletedAt"))).
		And(expression.Name("reserved").Equal(expression.Value(0)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build delete of product %s: %w", id, err)
	}
	_, err = store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: productKey(id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	old, failed := store.ConditionFailedItem(err)
	if !failed {
		return err
	}
	if len(old) == 0 {
		return ErrNotFound
	}
	p, err := unmarshalProduct(old)
	switch {
	case err != nil:
		return err
	case p.Deleted():
		return nil // deleted already: done
	case p.Version != expected:
		return ErrVersionMismatch
	default:
		return ErrHasReservations
	}
}

// maxBatchGetRounds bounds the BatchGetItem calls of one GetMany: DynamoDB
// may leave keys unprocessed (throttling, the 16 MB answer limit), which are
// asked for again after a short wait.
const maxBatchGetRounds = 5

// GetMany returns the products with ids (at most 100: one BatchGetItem), in
// the order of ids; ids without a product, or of a deleted one, are left
// out (the reserve step then reports the product not found).
func (s *Store) GetMany(ctx context.Context, ids []string) ([]Product, error) {
	return s.getMany(ctx, ids, false)
}

// getMany is GetMany, with strongly consistent reads when consistent.
func (s *Store) getMany(ctx context.Context, ids []string, consistent bool) ([]Product, error) {
	keys := make([]store.Item, len(ids))
	for i, id := range ids {
		keys[i] = productKey(id)
	}
	byID := make(map[string]Product, len(ids))
	for round := 0; len(keys) > 0; round++ {
		if round == maxBatchGetRounds {
			return nil, fmt.Errorf("batch get products: %d keys still unprocessed", len(keys))
		}
		if round > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(25<<round) * time.Millisecond):
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(consistent)}},
		})
		if err != nil {
			return nil, fmt.Errorf("batch get products: %w", err)
		}
		for _, item := range out.Responses[s.table] {
			p, err := unmarshalProduct(item)
			if err != nil {
				return nil, err
			}
			byID[p.ID] = p
		}
		keys = out.UnprocessedKeys[s.table].Keys
	}
	products := make([]Product, 0, len(byID))
	for _, id := range ids {
		if p, ok := byID[id]; ok && !p.Deleted() {
			products = append(products, p)
		}
	}
	return products, nil
}

// List returns up to limit products in creation order after cursor, and the
// cursor of the next page ("" on the last page).
func (s *Store) List(ctx context.Context, limit int32, cursor string) ([]Product, string, error) {
	start, err := store.DecodeCursor(cursor, listCursorAttrs...)
	if err != nil || (start != nil && start["gsi1pk"].(*types.AttributeValueMemberS).Value != gsi1Product) {
		return nil, "", ErrBadCursor
	}
	keyCond := expression.Key("gsi1pk").Equal(expression.Value(gsi1Product))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsi1),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, "", fmt.Errorf("query products: %w", err)
	}
	products := make([]Product, 0, len(out.Items))
	for _, item := range out.Items {
		p, err := unmarshalProduct(item)
		if err != nil {
			return nil, "", err
		}
		if p.Deleted() {
			continue // Delete removes it from gsi1; an index lagging behind may still hold it
		}
		products = append(products, p)
	}
	next, err := store.EncodeCursor(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", err
	}
	return products, next, nil
}

// AdjustStock adds delta (which may be negative) to the available stock in
// one conditional update: available never drops below zero, whatever runs
// concurrently, nor rises above MaxStock. ErrNotFound (no product, or a
// deleted one: the catalog no longer has it), ErrInsufficientStock or
// ErrStockLimit otherwise, told apart by the item DynamoDB returns with
// the failed condition.
func (s *Store) AdjustStock(ctx context.Context, id string, delta int64) (Product, error) {
	upd := expression.Add(expression.Name("available"), expression.Value(delta)).
		Add(expression.Name(store.VersionAttr), expression.Value(1)).
		Set(expression.Name("updatedAt"), expression.Value(s.now().Format(time.RFC3339Nano)))
	// DynamoDB conditions cannot do arithmetic, so "available + delta >= 0"
	// becomes "available >= -delta"; the upper bound keeps the sum in range.
	cond := expression.AttributeExists(expression.Name(store.PK)).
		And(expression.AttributeNotExists(expression.Name("deletedAt"))).
		And(expression.Name("available").GreaterThanEqual(expression.Value(max(-delta, 0)))).
		And(expression.Name("available").LessThanEqual(expression.Value(MaxStock - max(delta, 0))))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return Product{}, fmt.Errorf("build stock adjustment of product %s: %w", id, err)
	}
	item, err := store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: productKey(id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if old, failed := store.ConditionFailedItem(err); failed {
		_, deleted := old["deletedAt"]
		switch {
		case len(old) == 0 || deleted:
			return Product{}, ErrNotFound
		case delta > 0:
			return Product{}, ErrStockLimit
		default:
			return Product{}, ErrInsufficientStock
		}
	}
	if err != nil {
		return Product{}, err
	}
	return unmarshalProduct(item)
}

func unmarshalProduct(item store.Item) (Product, error) {
	var it productItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Product{}, fmt.Errorf("unmarshal product: %w", err)
	}
	if it.LowStockThreshold == 0 {
		it.LowStockThreshold = DefaultLowStockThreshold // stored before thresholds existed
	}
	return it.Product, nil
}
