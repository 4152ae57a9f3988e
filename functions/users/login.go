package users

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/store"
)

// Login lockout: after MaxLoginFailures failed attempts within LoginWindow
// for one email, logins for it answer 429 until the window passes.
const (
	MaxLoginFailures = 5
	LoginWindow      = 15 * time.Minute
	// UserTokenTTL is how long a login's token lives (the most the token
	// library allows for user tokens).
	UserTokenTTL = time.Hour
)

// dummyHash is verified when the email is unknown, so an unknown email costs
// the same argon2id work as a wrong password and timing does not tell them
// apart. It is the hash of a random string nobody knows (same parameters as
// real hashes; computing it at start would add 30 ms to every cold start).
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$vhZ7+bhHKAOv+Othfwh3dQ$J+rjR55DR3foS9qxjsyTcoykX2luNdvylzJE3Ixn1YU"

// ErrLocked is returned while an email is locked out.
var ErrLocked = errors.New("too many failed logins")

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=128"`
}

// LoginResponse is a successful login.
type LoginResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"tokenType"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserID    string    `json:"userId"`
}

// IssueUserToken signs a user token for subject valid for ttl and returns
// it with its expiry. The login main adapts shared/servicetoken to it; the
// users package does not import the token library, so the functions that
// never sign (get, update, register) do not pay its start-up cost.
type IssueUserToken func(ctx context.Context, subject string, ttl time.Duration) (token string, expires time.Time, err error)

// Login handles POST /v1/auth/login. Unknown email and wrong password get
// the same 401 body after the same hashing work; an email with
// MaxLoginFailures failures inside LoginWindow gets 429 and Retry-After,
// checked before any password is looked at.
//
// issue should load its signing key on first use and keep it: loading it at
// start would put a network call into every cold start.
func Login(st *Store, issue IssueUserToken) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var req LoginRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		ctx := r.Context()
		email := NormalizeEmail(req.Email)
		now := st.now()
		cred, err := st.loginState(ctx, email, now)
		if errors.Is(err, ErrLocked) {
			return lockedError(cred.retryAfter(now))
		}
		if err != nil {
			return err
		}
		hash := dummyHash
		if cred.known {
			hash = cred.PasswordHash
		}
		match, err := verifyPassword(req.Password, hash)
		if err != nil {
			return fmt.Errorf("verify password of %s: %w", cred.UserID, err)
		}
		if !match || !cred.known {
			if err := st.recordLoginFailure(ctx, email, now); err != nil {
				return err
			}
			e := httpapi.Errorf(http.StatusUnauthorized, "email or password is wrong")
			e.Header = http.Header{"WWW-Authenticate": []string{`Bearer realm="shop"`}}
			return e
		}
		if cred.failures > 0 {
			if err := st.clearLoginFailures(ctx, email); err != nil {
				return err
			}
		}
		token, expires, err := issue(ctx, cred.UserID, UserTokenTTL)
		if err != nil {
			return fmt.Errorf("issue token: %w", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, LoginResponse{Token: token, TokenType: "Bearer", ExpiresAt: expires, UserID: cred.UserID})
		return nil
	})
}

func lockedError(retry time.Duration) *httpapi.Error {
	secs := int(math.Ceil(retry.Seconds()))
	e := httpapi.Errorf(http.StatusTooManyRequests, "too many failed logins for this account; try again in %d seconds", secs)
	e.Header = http.Header{"Retry-After": []string{strconv.Itoa(secs)}}
	e.Err = ErrLocked
	return e
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
