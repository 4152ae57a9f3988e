package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
)

// Reservations: the saga's hold on stock for one order, kept as
//
//	RESERVATION#<orderId> / RESERVATION   {orderId, status, lines, reason, tombstone, createdAt, updatedAt}
//
// beside the products it moves. Every change of status moves the stock of
// every line in the same TransactWriteItems, conditioned on the status it
// leaves, so stock and reservation never disagree and a step repeated (a
// Step Functions retry, a lost response) finds the status it left and
// changes nothing. Reserving and releasing write their events to the
// outbox in that transaction too (published.go):
//
//	(none) --reserve--> RESERVED --commit--> COMMITTED --restock--> RESTOCKED
//	   |                   |
//	   |                   +--release--> RELEASED <--release-- COMMITTED
//	   +--reserve, short--> FAILED      (a repeat answers the same error)
//	   +--release---------> RELEASED    (tombstone: a late reserve is refused)
//
// Stock is conserved: initial stock + adjustments = available + reserved + sold.

// Reservation statuses, as stored and as the steps answer them.
const (
	StatusReserved  = "RESERVED"
	StatusFailed    = "FAILED"
	StatusReleased  = "RELEASED"
	StatusCommitted = "COMMITTED"
	StatusRestocked = "RESTOCKED"
)

// Bounds of one reservation. A transaction holds at most 100 operations: 50
// lines and the reservation item fit with room to spare.
const (
	MaxLines        = 50
	MaxLineQuantity = 1000
)

const skReservation = "RESERVATION"

func reservationKey(orderID string) store.Item {
	return store.Key("RESERVATION#"+orderID, skReservation)
}

// Line is one product of a reservation.
type Line struct {
	ProductID string `json:"productId" dynamodbav:"productId"`
	Quantity  int64  `json:"quantity" dynamodbav:"quantity"`
}

// Reservation is an order's hold on stock.
type Reservation struct {
	OrderID string `dynamodbav:"orderId"`
	Status  string `dynamodbav:"status"`
	Lines   []Line `dynamodbav:"lines,omitempty"`
	// Reason is the name of the error a FAILED reservation answers again
	// (InsufficientStock, ProductNotFound).
	Reason string `dynamodbav:"reason,omitempty"`
	// Tombstone marks a RELEASED written by a release that found nothing:
	// the order's reserve never ran, and never may.
	Tombstone bool      `dynamodbav:"tombstone,omitempty"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
}

type reservationItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	Reservation
}

// failReasons are the errors a FAILED reservation may record, by name.
var failReasons = map[string]error{
	ErrInsufficientStock.ErrorType(): ErrInsufficientStock,
	ErrNotFound.ErrorType():          ErrNotFound,
}

// maxStatusRaces bounds how often one step reads a reservation again after
// another step changed its status under it; each change moves the status
// forward, so a handful always suffices.
const maxStatusRaces = 5

// maxConflictRetries bounds the retries of a transaction cancelled only
// because another transaction held one of its items (TransactionConflict):
// nothing was applied, so it is retried here with a fresh token rather than
// failing the step. Concurrent orders for one product meet this all the time.
const maxConflictRetries = 8

// maxStockRaces bounds how often a reserve reads its products again after
// their stock moved between its read and its write (see Reserve). Each race
// lost is another change of the product that went through, and a product
// near its threshold admits only so many reservations before it is out of
// stock, so a handful always suffices.
const maxStockRaces = 16

// Reserve takes every line's quantity from available into reserved and
// records the reservation, with its events in the outbox (inventory.reserved,
// and inventory.stock.low for each product it leaves under its threshold),
// all in one transaction: every line or none. Repeats answer as the first
// call did: nil for RESERVED (and for a reservation committed or restocked
// since), the recorded ErrInsufficientStock or ErrNotFound for FAILED;
// ErrReservationReleased once the order was released (a release that ran
// first leaves a tombstone).
//
// The low-stock events say how much stock is left, exactly, and a
// transaction returns no values: so the products are read first (strongly
// consistent), and each line's update is conditioned on what the read
// decided. A line that leaves its product under the threshold is
// conditioned on the very stock read (the event's available is then
// exact); one that does not, on the stock being at least quantity +
// threshold (any stock will do that keeps it above). When the stock moved
// in between, the condition fails, nothing is written, and the reserve
// reads again and decides anew. Above their thresholds products take
// concurrent reservations as before; near them, reservations of one
// product take turns, each lost turn costing a read and a transaction, as
// many as the threshold at most before the product runs out.
func (s *Store) Reserve(ctx context.Context, orderID string, lines []Line) error {
	for race := 1; ; race++ {
		done, err := s.tryReserve(ctx, orderID, lines)
		if done || err != nil {
			return err
		}
		if race == maxStockRaces {
			return fmt.Errorf("reserve %s: the stock kept moving under the step", orderID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rand.N(min(500*time.Millisecond, (10*time.Millisecond)<<race))):
		}
	}
}

// tryReserve is one attempt of Reserve; done is false when the stock of a
// line moved between the read and the transaction.
func (s *Store) tryReserve(ctx context.Context, orderID string, lines []Line) (done bool, err error) {
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.ProductID
	}
	products, err := s.getMany(ctx, ids, true)
	if err != nil {
		return true, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	byID := make(map[string]Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	now := s.now()
	ops := make([]types.TransactWriteItem, 0, len(lines)+2)
	var low []Product
	for _, l := range lines {
		p, ok := byID[l.ProductID]
		switch {
		case !ok:
			return true, s.reserveFailed(ctx, orderID, lines, ErrNotFound.ErrorType(), now)
		case p.Available < l.Quantity:
			return true, s.reserveFailed(ctx, orderID, lines, ErrInsufficientStock.ErrorType(), now)
		}
		available := expression.Name("available")
		guard := available.GreaterThanEqual(expression.Value(l.Quantity + p.LowStockThreshold))
		if p.Available-l.Quantity < p.LowStockThreshold {
			guard = available.Equal(expression.Value(p.Available))
			p.Available -= l.Quantity
			low = append(low, p)
		}
		op, err := s.moveStock(l, now, moveReserve, &guard)
		if err != nil {
			return true, err
		}
		ops = append(ops, op)
	}
	res, err := attributevalue.MarshalMap(reservationItem{
		PK: "RESERVATION#" + orderID, SK: skReservation,
		Reservation: Reservation{OrderID: orderID, Status: StatusReserved, Lines: lines, CreatedAt: now, UpdatedAt: now},
	})
	if err != nil {
		return true, fmt.Errorf("marshal reservation: %w", err)
	}
	announced, err := s.reservedItem(ctx, orderID, lines, low)
	if err != nil {
		return true, err
	}
	ops = append(ops, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: res,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": store.PK},
	}}, announced)

	err = s.transact(ctx, ops)
	failed, condFailed := store.TxConditionFailed(err)
	switch {
	case err == nil:
		return true, nil
	case !condFailed:
		return true, fmt.Errorf("reserve %s: %w", orderID, err)
	case slices.Contains(failed, len(lines)):
		// The reservation exists: this is a repeat, or a release got here
		// first. (Its events exist with it: that condition fails too.)
		return true, s.reserveAgain(ctx, orderID)
	case failed[0] < len(lines):
		return false, nil // a line's stock moved since the read
	}
	return true, fmt.Errorf("reserve %s: the outbox item exists without its reservation: %w", orderID, store.ErrConditionFailed)
}

// reserveFailed records that the order cannot be reserved, for reason (a
// key of failReasons), so that a repeat answers the same, and answers it.
func (s *Store) reserveFailed(ctx context.Context, orderID string, lines []Line, reason string, now time.Time) error {
	err := s.putReservation(ctx, Reservation{OrderID: orderID, Status: StatusFailed, Lines: lines, Reason: reason, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, store.ErrAlreadyExists) {
		// A repeat, or a concurrent reserve or release of the same order
		// wrote first.
		return s.reserveAgain(ctx, orderID)
	}
	if err != nil {
		return err
	}
	return failReasons[reason]
}

// reserveAgain answers a reserve that found the order's reservation.
func (s *Store) reserveAgain(ctx context.Context, orderID string) error {
	r, err := s.GetReservation(ctx, orderID)
	if err != nil {
		return err
	}
	switch r.Status {
	case StatusFailed:
		if reason, ok := failReasons[r.Reason]; ok {
			return reason
		}
		return fmt.Errorf("reservation %s: FAILED with unknown reason %q", orderID, r.Reason)
	case StatusReleased:
		// Also when this order's stock was reserved and then released: the
		// stock is no longer held, so "RESERVED" would be untrue.
		return ErrReservationReleased
	}
	return nil // RESERVED, or moved on from it (COMMITTED, RESTOCKED)
}

// Release returns a RESERVED reservation's stock to available and marks it
// RELEASED, with inventory.released in the outbox. Without a reservation it
// writes a RELEASED tombstone (no event: nothing was released), so that a
// reserve arriving late (a retry overtaken by the compensation) is refused;
// FAILED, RELEASED and RESTOCKED change nothing. A COMMITTED reservation's
// stock is returned from sold to available (as restock would) and it is
// marked RELEASED: the saga's compensation may reach release after a commit
// that ran beside a confirm which failed, and stock must come back whatever
// the order in which the branches finished.
func (s *Store) Release(ctx context.Context, orderID string) error {
	for range maxStatusRaces {
		r, err := s.GetReservation(ctx, orderID)
		if errors.Is(err, ErrReservationNotFound) {
			now := s.now()
			err = s.putReservation(ctx, Reservation{OrderID: orderID, Status: StatusReleased, Tombstone: true, CreatedAt: now, UpdatedAt: now})
			if errors.Is(err, store.ErrAlreadyExists) {
				continue // a reserve landed in between: release what it took
			}
			return err
		}
		if err != nil {
			return err
		}
		move := moveRelease
		switch r.Status {
		case StatusFailed, StatusReleased, StatusRestocked:
			return nil
		case StatusCommitted:
			move = moveRestock
		}
		released := func(r Reservation) (types.TransactWriteItem, error) { return s.releasedItem(ctx, r) }
		if done, err := s.transition(ctx, r, StatusReleased, move, released); done || err != nil {
			return err
		}
	}
	return fmt.Errorf("release %s: the reservation kept changing under the step", orderID)
}

// Commit turns a RESERVED reservation's stock into sold and marks it
// COMMITTED. ErrReservationNotFound when the order holds no stock (no
// reservation, FAILED or RELEASED); a repeat, or a reservation restocked
// since, answers nil.
func (s *Store) Commit(ctx context.Context, orderID string) error {
	for range maxStatusRaces {
		r, err := s.GetReservation(ctx, orderID)
		if err != nil {
			return err
		}
		switch r.Status {
		case StatusCommitted, StatusRestocked:
			return nil
		case StatusFailed, StatusReleased:
			return ErrReservationNotFound
		}
		if done, err := s.transition(ctx, r, StatusCommitted, moveCommit, nil); done || err != nil {
			return err
		}
	}
	return fmt.Errorf("commit %s: the reservation kept changing under the step", orderID)
}

// Restock returns a COMMITTED reservation's sold stock to available and
// marks it RESTOCKED. ErrReservationNotCommitted while it is still RESERVED
// (the commit has yet to run: transient), ErrReservationNotFound when the
// order holds no stock; a repeat answers nil.
func (s *Store) Restock(ctx context.Context, orderID string) error {
	for range maxStatusRaces {
		r, err := s.GetReservation(ctx, orderID)
		if err != nil {
			return err
		}
		switch r.Status {
		case StatusRestocked:
			return nil
		case StatusReserved:
			return ErrReservationNotCommitted
		case StatusFailed, StatusReleased:
			return ErrReservationNotFound
		}
		if done, err := s.transition(ctx, r, StatusRestocked, moveRestock, nil); done || err != nil {
			return err
		}
	}
	return fmt.Errorf("restock %s: the reservation kept changing under the step", orderID)
}

// transition moves r to status and every line's stock by move, in one
// transaction conditioned on r's status being what was read, with the
// operations of announce(r), if any: the outbox item of the change. done is
// false when that condition failed: the status moved meanwhile (a
// concurrent step), and the caller reads it again and decides anew.
func (s *Store) transition(ctx context.Context, r Reservation, status string, move stockMove, announce func(Reservation) (types.TransactWriteItem, error)) (done bool, err error) {
	now := s.now()
	ops := make([]types.TransactWriteItem, 0, len(r.Lines)+2)
	for _, l := range r.Lines {
		op, err := s.moveStock(l, now, move, nil)
		if err != nil {
			return false, err
		}
		ops = append(ops, op)
	}
	upd := expression.Set(expression.Name("status"), expression.Value(status)).
		Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano)))
	cond := expression.Name("status").Equal(expression.Value(r.Status))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("build reservation update: %w", err)
	}
	ops = append(ops, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: reservationKey(r.OrderID),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}})
	if announce != nil {
		item, err := announce(r)
		if err != nil {
			return false, err
		}
		ops = append(ops, item)
	}
	err = s.transact(ctx, ops)
	failed, condFailed := store.TxConditionFailed(err)
	switch {
	case err == nil:
		return true, nil
	case condFailed && slices.Contains(failed, len(r.Lines)):
		// (An outbox item that exists belongs to a status change made
		// already: its condition fails with this one.)
		return false, nil
	case condFailed && failed[0] > len(r.Lines):
		return false, fmt.Errorf("reservation %s -> %s: the outbox item exists without the change: %w", r.OrderID, status, store.ErrConditionFailed)
	case condFailed:
		// Only reserve's condition can fail on a line; the others hold by
		// conservation (reserved and sold cover every reservation). A product
		// deleted under a live reservation would get here.
		return false, fmt.Errorf("reservation %s -> %s: product %s refused the move: %w",
			r.OrderID, status, r.Lines[failed[0]].ProductID, store.ErrConditionFailed)
	}
	return false, fmt.Errorf("reservation %s -> %s: %w", r.OrderID, status, err)
}

// stockMove is what one status change does to a line's product.
type stockMove struct {
	available, reserved, sold int64 // multiplied by the line's quantity
	// needAvailable: the product must have the quantity available (reserve);
	// the other moves take from reserved or sold, which conservation covers.
	needAvailable bool
}

var (
	moveReserve = stockMove{available: -1, reserved: 1, needAvailable: true}
	moveRelease = stockMove{available: 1, reserved: -1}
	moveCommit  = stockMove{reserved: -1, sold: 1}
	moveRestock = stockMove{available: 1, sold: -1}
)

// moveStock is the transaction operation applying move to l's product,
// with guard, if set, ANDed into its condition. ADD treats an absent sold (a
// product stored before sold existed) as 0.
func (s *Store) moveStock(l Line, now time.Time, move stockMove, guard *expression.ConditionBuilder) (types.TransactWriteItem, error) {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano))).
		Add(expression.Name(store.VersionAttr), expression.Value(1))
	for _, f := range []struct {
		attr string
		by   int64
	}{{"available", move.available}, {"reserved", move.reserved}, {"sold", move.sold}} {
		if f.by != 0 {
			upd = upd.Add(expression.Name(f.attr), expression.Value(f.by*l.Quantity))
		}
	}
	cond := expression.AttributeExists(expression.Name(store.PK))
	if move.needAvailable {
		// A reservation takes stock only from a product still in the
		// catalog: a delete that landed since the read fails this, and the
		// reserve reads again and finds the product gone (Store.Delete).
		cond = cond.And(expression.Name("available").GreaterThanEqual(expression.Value(l.Quantity))).
			And(expression.AttributeNotExists(expression.Name("deletedAt")))
	}
	if guard != nil {
		cond = cond.And(*guard)
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build stock move: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: productKey(l.ProductID),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// transact runs ops in one transaction (safe to retry: store.TransactWrite)
// and retries it, with a fresh token, while it is cancelled only by
// conflicts with other transactions, which applied none of it.
func (s *Store) transact(ctx context.Context, ops []types.TransactWriteItem) error {
	for attempt := 0; ; attempt++ {
		err := store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
		if err == nil || !conflictOnly(err) || attempt+1 >= maxConflictRetries {
			return err
		}
		wait := rand.N(min(time.Second, (20*time.Millisecond)<<attempt))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// conflictOnly reports a transaction cancelled for conflicts alone, with no
// condition failed.
func conflictOnly(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		var conflict *types.TransactionConflictException
		return errors.As(err, &conflict)
	}
	conflicts := 0
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflicts++
		case "", "None":
		default:
			return false
		}
	}
	return conflicts > 0
}

// GetReservation reads the order's reservation (strongly consistent), or
// ErrReservationNotFound.
func (s *Store) GetReservation(ctx context.Context, orderID string) (Reservation, error) {
	item, err := store.Get(ctx, s.db, s.table, reservationKey(orderID))
	if errors.Is(err, store.ErrNotFound) {
		return Reservation{}, ErrReservationNotFound
	}
	if err != nil {
		return Reservation{}, err
	}
	var it reservationItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Reservation{}, fmt.Errorf("unmarshal reservation: %w", err)
	}
	return it.Reservation, nil
}

// putReservation stores r if the order has no reservation yet;
// store.ErrAlreadyExists otherwise. Safe to retry (store.PutNew).
func (s *Store) putReservation(ctx context.Context, r Reservation) error {
	item, err := attributevalue.MarshalMap(reservationItem{PK: "RESERVATION#" + r.OrderID, SK: skReservation, Reservation: r})
	if err != nil {
		return fmt.Errorf("marshal reservation: %w", err)
	}
	return store.PutNew(ctx, s.db, s.table, item)
}
