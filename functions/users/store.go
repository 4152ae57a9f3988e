package users

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the users table (see service.yaml):
//
//	USER#<id>     / PROFILE   the account's public data
//	EMAIL#<email> / EMAIL     credentials: the owning user id and password hash;
//	                          it exists iff an account owns the email, which
//	                          makes it the uniqueness guard too, and login one read
//	LOGIN#<email> / W#<start> login attempts on the account in the window
//	                          starting at <start> (epoch seconds), counted
//	                          before the password is checked (any email,
//	                          registered or not, so throttling reveals nothing)
//	LOGINCLIENT#<client> / W#<start>
//	                          failed login attempts of one client (see
//	                          loginClient) on any account, in its window
const (
	skProfile = "PROFILE"
	skEmail   = "EMAIL"
)

func userKey(id string) store.Item { return store.Key("USER#"+id, skProfile) }

func emailKey(email string) store.Item { return store.Key("EMAIL#"+email, skEmail) }

// NormalizeEmail is the form an email is stored and compared in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// userItem is the stored form of a user.
type userItem struct {
	PK          string      `dynamodbav:"pk"`
	SK          string      `dynamodbav:"sk"`
	ID          string      `dynamodbav:"id"`
	Email       string      `dynamodbav:"email"`
	Name        string      `dynamodbav:"name"`
	Phone       string      `dynamodbav:"phone,omitempty"`
	Preferences Preferences `dynamodbav:"preferences"`
	CreatedAt   time.Time   `dynamodbav:"createdAt"`
	UpdatedAt   time.Time   `dynamodbav:"updatedAt"`
	Version     int64       `dynamodbav:"version"`
}

func (it userItem) user() User {
	return User{ID: it.ID, Email: it.Email, Name: it.Name, Phone: it.Phone, Preferences: it.Preferences,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version}
}

// Store persists users in the service's table.
type Store struct {
	db    store.DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db store.DB, table string) *Store {
	return &Store{db: db, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// Create stores a new user and its credentials in one transaction, with
// the user.created event in the outbox, so an email can never end up with
// two accounts, nor an account without its credentials or its event.
// ErrEmailTaken if the email is claimed.
func (s *Store) Create(ctx context.Context, u User, passwordHash string) (User, error) {
	now := s.now()
	u.Email = NormalizeEmail(u.Email)
	u.CreatedAt, u.UpdatedAt, u.Version = now, now, 1
	item, err := attributevalue.MarshalMap(userItem{
		PK: "USER#" + u.ID, SK: skProfile, ID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone,
		Preferences: u.Preferences, CreatedAt: now, UpdatedAt: now, Version: 1,
	})
	if err != nil {
		return User{}, fmt.Errorf("marshal user: %w", err)
	}
	guard := emailKey(u.Email)
	guard["userId"] = store.S(u.ID)
	guard["passwordHash"] = store.S(passwordHash)
	created, err := userCreated(ctx, u)
	if err != nil {
		return User{}, err
	}
	event, err := outbox.Item(s.table, created)
	if err != nil {
		return User{}, err
	}
	ops := []types.TransactWriteItem{putNew(s.table, item), putNew(s.table, guard), event}
	// The first item can only collide on a random UUID, and the event with
	// it: that stays the internal error it would be. Safe to retry
	// (store.TransactWrite).
	err = store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	if err := store.MapTxError(err, map[int]error{1: ErrEmailTaken}); err != nil {
		return User{}, err
	}
	return u, nil
}

// putNew puts item only if its key is free.
func putNew(table string, item store.Item) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": store.PK},
	}}
}

// Get returns the user with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (User, error) {
	item, err := store.Get(ctx, s.db, s.table, userKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	var it userItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return User{}, fmt.Errorf("unmarshal user %s: %w", id, err)
	}
	return it.user(), nil
}

// Update applies p if the user is still at version expected, with the
// user.updated event in the outbox: one read (the user as it stands, which
// the event and the answer are made from) and one transaction, the update
// conditioned on the version. ErrNotFound or ErrVersionMismatch otherwise.
//
// The transaction is safe to retry (store.TransactWrite), and a repeat of
// a request that was applied finds the version moved on: ErrVersionMismatch,
// and no second event.
func (s *Store) Update(ctx context.Context, id string, expected int64, p Patch) (User, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	// What the update below makes of the user, when it applies: it applies
	// only to version expected, so to the user as read unless the version
	// moved, and then nothing is written.
	now := s.now()
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano))).
		Set(expression.Name(store.VersionAttr), expression.Value(expected+1))
	u.UpdatedAt, u.Version = now, expected+1
	if p.Name != nil {
		upd = upd.Set(expression.Name("name"), expression.Value(*p.Name))
		u.Name = *p.Name
	}
	if p.Phone != nil {
		upd = upd.Set(expression.Name("phone"), expression.Value(*p.Phone))
		u.Phone = *p.Phone
	}
	if pp := p.Preferences; pp != nil {
		if pp.Locale != nil {
			upd = upd.Set(expression.Name("preferences.locale"), expression.Value(*pp.Locale))
			u.Preferences.Locale = *pp.Locale
		}
		if pp.Currency != nil {
			upd = upd.Set(expression.Name("preferences.currency"), expression.Value(*pp.Currency))
			u.Preferences.Currency = *pp.Currency
		}
		if pp.MarketingEmails != nil {
			upd = upd.Set(expression.Name("preferences.marketingEmails"), expression.Value(*pp.MarketingEmails))
			u.Preferences.MarketingEmails = *pp.MarketingEmails
		}
	}
	cond := expression.Name(store.VersionAttr).Equal(expression.Value(expected))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return User{}, fmt.Errorf("build update of user %s: %w", id, err)
	}
	updated, err := userUpdated(ctx, u)
	if err != nil {
		return User{}, err
	}
	event, err := outbox.Item(s.table, updated)
	if err != nil {
		return User{}, err
	}
	err = store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: userKey(id),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		event,
	}})
	if failed, ok := store.TxConditionFailed(err); ok && failed[0] == 0 {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) && len(tce.CancellationReasons[0].Item) == 0 {
			return User{}, ErrNotFound // deleted since the read
		}
		return User{}, ErrVersionMismatch
	}
	if err := store.MapTxError(err, nil); err != nil {
		return User{}, err
	}
	return u, nil
}

// loginCredentials is what a login checks a password against: the owning
// user and the hash, if the email is registered.
type loginCredentials struct {
	UserID       string `dynamodbav:"userId"`
	PasswordHash string `dynamodbav:"passwordHash"`
	known        bool
}

func (s *Store) credentials(ctx context.Context, email string) (loginCredentials, error) {
	var cred loginCredentials
	item, err := store.Get(ctx, s.db, s.table, emailKey(email))
	if errors.Is(err, store.ErrNotFound) {
		return cred, nil
	}
	if err != nil {
		return cred, fmt.Errorf("read credentials: %w", err)
	}
	if err := attributevalue.UnmarshalMap(item, &cred); err != nil {
		return cred, fmt.Errorf("unmarshal credentials: %w", err)
	}
	cred.known = true
	return cred, nil
}

// loginAttempt is an admitted login attempt: counted, as a failure, in the
// window items of its account and its client, until loginSucceeded says
// otherwise.
type loginAttempt struct {
	account store.Item // key of the account's window item
	client  store.Item // key of the client's window item
}

// budgetItem is the state of one login budget in one window.
type budgetItem struct {
	Failures int64 `dynamodbav:"failures"` // admitted attempts not known to have succeeded
	LastAt   int64 `dynamodbav:"lastAt"`   // epoch ms of the last admitted attempt
}

// window is the fixed window of length d that holds now, as its start.
func window(now time.Time, d time.Duration) time.Time { return now.Truncate(d) }

func accountKey(email string, start time.Time) store.Item {
	return store.Key("LOGIN#"+email, "W#"+strconv.FormatInt(start.Unix(), 10))
}

func clientKey(client string, start time.Time) store.Item {
	return store.Key("LOGINCLIENT#"+client, "W#"+strconv.FormatInt(start.Unix(), 10))
}

// reserveLogin counts an attempt on email's account from client (see
// loginClient) before any password is checked. Each budget is one
// conditional UpdateItem that admits the attempt only while the budget
// allows: the count is the condition, so two attempts cannot both take the
// last slot. It answers a *loginRefused when a budget does not admit the
// attempt.
//
// The attempt is counted pessimistically, as a failure: a login that
// succeeds takes it back (loginSucceeded), one that fails writes nothing
// more. Counting after the check instead (read the count, hash, write the
// failure) let every guess in flight pass the read before any wrote:
//
//	guess 1..24: read failures = 0, admitted
//	guess 1..24: argon2id, 50 ms each
//	guess 1..24: failures += 1          -> 24 passwords checked, limit 5
//
// The client's budget is asked first, so a client over its limit never
// touches an account's delay. An attempt the account then refuses is taken
// back from the client: the client limit counts passwords checked and found
// wrong, not requests (a flood costs no hashing; API Gateway's throttling
// and WAF answer floods). The two budgets are single-item writes, not one
// transaction: a transaction conflicts with any concurrent write to its
// items, and a client's item is hot for exactly the clients (a large NAT)
// that must not be refused for it.
//
// Any email is counted alike, registered or not, so the answers tell
// nothing about which emails exist.
func (s *Store) reserveLogin(ctx context.Context, email, client string, now time.Time) (loginAttempt, error) {
	accountStart, clientStart := window(now, LoginWindow), window(now, ClientLoginWindow)
	a := loginAttempt{account: accountKey(email, accountStart), client: clientKey(client, clientStart)}

	failures := expression.Name("failures")
	clientAdmits := expression.Or(expression.AttributeNotExists(failures), failures.LessThan(expression.Value(MaxClientLoginFailures)))
	_, ok, err := s.reserve(ctx, a.client, clientAdmits, now, clientStart.Add(ClientLoginWindow))
	if err != nil {
		return loginAttempt{}, fmt.Errorf("reserve login attempt of client: %w", err)
	}
	if !ok {
		return loginAttempt{}, &loginRefused{byClient: true, retryAfter: clientStart.Add(ClientLoginWindow).Sub(now)}
	}

	old, ok, err := s.reserve(ctx, a.account, accountAdmits(now), now, accountStart.Add(LoginWindow))
	if err != nil || !ok {
		// Not checked, so not a failure of the client's. A failed refund
		// leaves the client one failure too many, the safe side: the answer
		// stands, and the error is logged with it.
		refundErr := s.refundClient(ctx, a)
		if err != nil {
			return loginAttempt{}, errors.Join(fmt.Errorf("reserve login attempt of account: %w", err), refundErr)
		}
		// The wait ends at the next slot, or with the window if sooner.
		next := time.UnixMilli(old.LastAt).Add(LoginDelay(old.Failures)).Sub(now)
		refused := &loginRefused{retryAfter: min(next, accountStart.Add(LoginWindow).Sub(now))}
		return loginAttempt{}, errors.Join(refused, refundErr)
	}
	return a, nil
}

// accountAdmits holds when an account's budget admits an attempt at now:
// LoginDelay spelled out for DynamoDB, one clause per step of the schedule
// (seven in all), since an update expression cannot compute the delay from
// the count it is about to change.
//
//	failures < 5  OR  (failures = 5 AND lastAt <= now-1s)  OR ...
//	OR (failures = 9 AND lastAt <= now-16s)  OR  (failures >= 10 AND lastAt <= now-30s)
//
// Refused attempts change nothing, so a flood of them cannot push the next
// admission further away than the schedule says.
func accountAdmits(now time.Time) expression.ConditionBuilder {
	failures, lastAt := expression.Name("failures"), expression.Name("lastAt")
	waited := func(d time.Duration) expression.ConditionBuilder {
		return lastAt.LessThanEqual(expression.Value(now.Add(-d).UnixMilli()))
	}
	cond := expression.Or(expression.AttributeNotExists(failures), failures.LessThan(expression.Value(FreeLoginFailures)))
	n := int64(FreeLoginFailures)
	for ; LoginDelay(n) < MaxLoginDelay; n++ {
		cond = cond.Or(failures.Equal(expression.Value(n)).And(waited(LoginDelay(n))))
	}
	return cond.Or(failures.GreaterThanEqual(expression.Value(n)).And(waited(MaxLoginDelay)))
}

// reserve counts an attempt in the budget item at key if admits holds,
// answering ok; otherwise it answers ok false and the item that refused it.
// windowEnd sets the item's expiry.
//
// Retry-safe through store.ConditionalUpdate: the emulator, and real
// DynamoDB after a network error, can apply a write and lose its response;
// the SDK then sends the same request again, which finds its own write
// token in the item and is admitted without being counted twice:
//
//	try 1:  failures 4 -> 5, writeToken = t   (response lost)
//	try 2:  condition fails (the item holds t) -> ours: admitted, counted once
//
// Only if two other writes to the item (admitted attempts, refunds) landed
// between the two tries is ours not recognised: the retry then counts it a
// second time, or is refused if that leaves no room. One failure too many,
// never one too few.
func (s *Store) reserve(ctx context.Context, key store.Item, admits expression.ConditionBuilder, now, windowEnd time.Time) (budgetItem, bool, error) {
	upd := expression.Add(expression.Name("failures"), expression.Value(1)).
		Set(expression.Name("lastAt"), expression.Value(now.UnixMilli())).
		// Expired windows are garbage: an hour's slack, since DynamoDB
		// deletes expired items late and conditions never rely on it.
		Set(expression.Name("ttl"), expression.Value(windowEnd.Add(time.Hour).Unix()))
	expr, err := expression.NewBuilder().WithCondition(admits).WithUpdate(upd).Build()
	if err != nil {
		return budgetItem{}, false, err
	}
	_, err = store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err == nil {
		return budgetItem{}, true, nil
	}
	item, refused := store.ConditionFailedItem(err)
	if !refused {
		return budgetItem{}, false, err
	}
	var old budgetItem
	if err := attributevalue.UnmarshalMap(item, &old); err != nil {
		return budgetItem{}, false, fmt.Errorf("unmarshal login budget: %w", err)
	}
	return old, false, nil
}

// loginSucceeded takes back the failure a successful attempt was counted
// as. For the account, by clearing its window: the right password ends a run
// of failures. Attempts admitted while this one was being checked are
// cleared with it; they are at most the few the schedule let in at once,
// and the holder of the password resetting the budget is the point. For the
// client, by taking back this attempt only: a client's failures on other
// accounts stand, or an attacker could wipe its count by logging into an
// account of its own between guesses.
func (s *Store) loginSucceeded(ctx context.Context, a loginAttempt) error {
	var wg sync.WaitGroup
	var clearErr, refundErr error
	wg.Go(func() {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: a.account})
		clearErr = wrap(err, "clear login failures of account")
	})
	wg.Go(func() { refundErr = s.refundClient(ctx, a) })
	wg.Wait()
	return errors.Join(clearErr, refundErr)
}

// refundClient takes attempt a back from its client's count. Retry-safe as
// reserve is (store.ConditionalUpdate): a retried refund that finds its own
// write token in the item is done. Only if two other writes came between the
// two tries is the retry not recognised, and the client gets one failure
// back too many: a lost response is rare and no caller can cause one, while
// remembering every write would grow the item without bound.
func (s *Store) refundClient(ctx context.Context, a loginAttempt) error {
	failures := expression.Name("failures")
	expr, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(failures)).
		WithUpdate(expression.Add(failures, expression.Value(-1))).
		Build()
	if err != nil {
		return err
	}
	_, err = store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       a.client,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if store.IsConditionFailed(err) {
		// The item is gone with its window: nothing left to take back.
		return nil
	}
	return wrap(err, "refund login attempt of client")
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
