package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the users table (see service.yaml):
//
//	USER#<id>     / PROFILE   the account's public data
//	EMAIL#<email> / EMAIL     credentials: the owning user id and password hash;
//	                          it exists iff an account owns the email, which
//	                          makes it the uniqueness guard too, and login one read
//	LOGIN#<email> / FAILURES  failed logins in the current window (any email,
//	                          registered or not, so lockout reveals nothing)
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

// Create stores a new user and its credentials in one transaction, so an
// email can never end up with two accounts, nor an account without its
// credentials. ErrEmailTaken if the email is claimed.
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
	// The first item can only collide on a random UUID: that stays the
	// internal error it would be.
	if err := store.PutNewAll(ctx, s.db, s.table, []store.Item{item, guard}, map[int]error{1: ErrEmailTaken}); err != nil {
		return User{}, err
	}
	return u, nil
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

// Update applies p if the user is still at version expected: one
// conditional UpdateItem. ErrNotFound or ErrVersionMismatch otherwise.
func (s *Store) Update(ctx context.Context, id string, expected int64, p Patch) (User, error) {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(s.now().Format(time.RFC3339Nano)))
	if p.Name != nil {
		upd = upd.Set(expression.Name("name"), expression.Value(*p.Name))
	}
	if p.Phone != nil {
		upd = upd.Set(expression.Name("phone"), expression.Value(*p.Phone))
	}
	if pp := p.Preferences; pp != nil {
		if pp.Locale != nil {
			upd = upd.Set(expression.Name("preferences.locale"), expression.Value(*pp.Locale))
		}
		if pp.Currency != nil {
			upd = upd.Set(expression.Name("preferences.currency"), expression.Value(*pp.Currency))
		}
		if pp.MarketingEmails != nil {
			upd = upd.Set(expression.Name("preferences.marketingEmails"), expression.Value(*pp.MarketingEmails))
		}
	}
	item, err := store.UpdateVersioned(ctx, s.db, s.table, userKey(id), expected, upd, nil)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return User{}, ErrNotFound
	case errors.Is(err, store.ErrVersionConflict):
		return User{}, ErrVersionMismatch
	case err != nil:
		return User{}, err
	}
	var it userItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return User{}, fmt.Errorf("unmarshal user %s: %w", id, err)
	}
	return it.user(), nil
}

// loginCredentials is what a login reads: the credentials (if the email is
// registered) and the failure counter, in one BatchGetItem.
type loginCredentials struct {
	UserID       string `dynamodbav:"userId"`
	PasswordHash string `dynamodbav:"passwordHash"`
	known        bool
	failures     int64
	windowStart  time.Time
}

func (c loginCredentials) retryAfter(now time.Time) time.Duration {
	return max(c.windowStart.Add(LoginWindow).Sub(now), time.Second)
}

func loginKey(email string) store.Item { return store.Key("LOGIN#"+email, "FAILURES") }

type failureItem struct {
	Failures    int64 `dynamodbav:"failures"`
	WindowStart int64 `dynamodbav:"windowStart"` // epoch ms
}

func (s *Store) loginState(ctx context.Context, email string, now time.Time) (loginCredentials, error) {
	out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
		RequestItems: map[string]types.KeysAndAttributes{
			s.table: {Keys: []store.Item{emailKey(email), loginKey(email)}, ConsistentRead: aws.Bool(true)},
		},
	})
	if err != nil {
		return loginCredentials{}, fmt.Errorf("read login state: %w", err)
	}
	if len(out.UnprocessedKeys) > 0 {
		// Two small items: only throttling leaves keys unprocessed. Let the
		// client retry rather than guess.
		return loginCredentials{}, errors.New("read login state: throttled")
	}
	var cred loginCredentials
	for _, item := range out.Responses[s.table] {
		switch item[store.SK].(*types.AttributeValueMemberS).Value {
		case skEmail:
			if err := attributevalue.UnmarshalMap(item, &cred); err != nil {
				return loginCredentials{}, fmt.Errorf("unmarshal credentials: %w", err)
			}
			cred.known = true
		case "FAILURES":
			var f failureItem
			if err := attributevalue.UnmarshalMap(item, &f); err != nil {
				return loginCredentials{}, fmt.Errorf("unmarshal login failures: %w", err)
			}
			if start := time.UnixMilli(f.WindowStart); now.Sub(start) < LoginWindow {
				cred.failures, cred.windowStart = f.Failures, start
			}
		}
	}
	if cred.failures >= MaxLoginFailures {
		return cred, ErrLocked
	}
	return cred, nil
}

// recordLoginFailure counts a failure in the current window, or starts a new
// window. Two writes at most, no read, and no lost count:
//
//  1. ADD failures 1 if a window started within LoginWindow exists;
//  2. else start a window (failures = 1) if none exists or it expired;
//  3. if 2 fails, a concurrent request just started the window: go to 1.
func (s *Store) recordLoginFailure(ctx context.Context, email string, now time.Time) error {
	cutoff := store.N(now.Add(-LoginWindow).UnixMilli())
	for range 3 {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       loginKey(email),
			UpdateExpression:          aws.String("ADD failures :one"),
			ConditionExpression:       aws.String("windowStart >= :cutoff"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": store.N(1), ":cutoff": cutoff},
		})
		if err == nil || !store.IsConditionFailed(err) {
			return wrap(err, "count login failure")
		}
		item := loginKey(email)
		item["failures"] = store.N(1)
		item["windowStart"] = store.N(now.UnixMilli())
		item["ttl"] = store.N(now.Add(LoginWindow).Add(time.Hour).Unix())
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR windowStart < :cutoff"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":cutoff": cutoff},
		})
		if err == nil || !store.IsConditionFailed(err) {
			return wrap(err, "start login failure window")
		}
	}
	return errors.New("count login failure: too much contention")
}

func (s *Store) clearLoginFailures(ctx context.Context, email string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: loginKey(email)})
	return wrap(err, "clear login failures")
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
