package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

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
