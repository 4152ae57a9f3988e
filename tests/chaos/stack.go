package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
	"github.com/shop-serverless/shop/tests/internal/apicall"
	"github.com/shop-serverless/shop/tests/internal/buscapture"
)

// stack is the deployed local stack the run drives: its API over HTTP, and
// its tables, executions, bus and queues through the SDK, as the
// end-to-end tests reach them (tests/client_test.go, tests/saga_test.go).
type stack struct {
	api    string
	prefix string
	http   *http.Client
	db     *dynamodb.Client
	sqs    *sqs.Client
	eb     *eventbridge.Client
	sfn    *sfn.Client
	logs   *cloudwatchlogs.Client

	users, operator *servicetoken.Signer
}

// apiURL is the deployed API's base URL: flag, $SHOP_API_URL, else the
// file the deployer wrote (.local/api-url, from the repository's root).
func apiURL(flagValue string) (string, error) {
	for _, u := range []string{flagValue, os.Getenv("SHOP_API_URL")} {
		if u != "" {
			return strings.TrimRight(u, "/"), nil
		}
	}
	b, err := os.ReadFile(filepath.Join(".local", "api-url"))
	if err != nil {
		return "", fmt.Errorf("no deployed stack: -api and SHOP_API_URL unset and .local/api-url unreadable (run from the repository's root after make run): %w", err)
	}
	return strings.TrimRight(strings.TrimSpace(string(b)), "/"), nil
}

func stackPrefix() string {
	if p := os.Getenv("SHOP_PREFIX"); p != "" {
		return p
	}
	return "shop"
}

func connect(ctx context.Context, api string) (*stack, error) {
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		return nil, errors.New("AWS_ENDPOINT_URL is unset: the chaos run drives the local emulator only")
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	s := &stack{
		api: api, prefix: stackPrefix(),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		db:   dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg),
		logs: cloudwatchlogs.NewFromConfig(cfg),
	}
	sm := secretsmanager.NewFromConfig(cfg)
	if s.users, err = keystore.LoadSigner(ctx, sm, s.prefix, naming.UserTokenService); err != nil {
		return nil, fmt.Errorf("users signer: %w", err)
	}
	if s.operator, err = keystore.LoadSigner(ctx, sm, s.prefix, naming.OperatorIssuer); err != nil {
		return nil, fmt.Errorf("operator signer: %w", err)
	}
	return s, nil
}

func (s *stack) table(service string) string { return naming.Table(s.prefix, service) }

// userToken is a user token as login signs it (logging in hundreds of
// times from one address would spend the login budget).
func (s *stack) userToken(userID string, ttl time.Duration) (string, error) {
	tok, _, err := s.users.Issue(servicetoken.KindUser, userID, []string{naming.Audience(s.prefix)}, nil, ttl)
	return tok, err
}

func (s *stack) operatorToken(scopes ...string) (string, error) {
	tok, _, err := s.operator.Issue(servicetoken.KindService, naming.OperatorIssuer, []string{naming.Audience(s.prefix)}, scopes, 5*time.Minute) // the most a service token may live: setup uses it
	return tok, err
}

type response = apicall.Response

// call sends one request; body nil or a value sent as JSON; headers in
// name, value pairs.
func (s *stack) call(ctx context.Context, method, path string, body any, headers ...string) (response, error) {
	return apicall.Do(ctx, s.http, s.api, method, path, body, headers...)
}

// retryable says whether a client should send the request again (with
// the same Idempotency-Key): a lost answer, a 5xx, a 429, or a 409 that
// says the first request with the key still runs (it has Retry-After).
func retryable(r response, err error) bool {
	if err != nil {
		return true
	}
	return r.Status >= 500 || r.Status == http.StatusTooManyRequests || (r.Status == http.StatusConflict && r.Header.Get("Retry-After") != "")
}

// callRetrying sends the request until it is not retryable or the budget
// is spent, and returns the last answer and how many times it resent.
func (s *stack) callRetrying(ctx context.Context, budget time.Duration, method, path string, body any, headers ...string) (response, int, error) {
	end := time.Now().Add(budget)
	wait := 250 * time.Millisecond
	for retries := 0; ; retries++ {
		r, err := s.call(ctx, method, path, body, headers...)
		if !retryable(r, err) || time.Now().After(end) {
			return r, retries, err
		}
		if ra, e := strconv.Atoi(r.Header.Get("Retry-After")); e == nil && err == nil && time.Duration(ra)*time.Second > wait {
			wait = time.Duration(ra) * time.Second
		}
		select {
		case <-ctx.Done():
			return r, retries, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 3*time.Second)
	}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// capture is every event of the run, from a rule of its own on the
// stack's bus (tests/internal/buscapture, as the end-to-end tests' capture).
// Named chaos-capture-*, outside the stack's prefix, so the deployer's
// prune leaves it alone; Close removes it.
type capture struct {
	*buscapture.Capture

	mu     sync.Mutex
	events []captured
}

type captured struct {
	Event
	Detail string // the structured CloudEvent, to put it on the bus again
	Source string
	Replay bool
}

func (s *stack) startCapture(ctx context.Context) (*capture, error) {
	c := &capture{}
	var err error
	c.Capture, err = buscapture.Start(ctx, s.sqs, s.eb, naming.EventBus(s.prefix), fmt.Sprintf("chaos-capture-%d", os.Getpid()),
		"make chaos: every event of the run, for the invariant checker", c.record)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// delivery is an event as EventBridge delivered it to a queue.
type delivery struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	ReplayName string          `json:"replay-name"`
}

type cloudEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Subject string `json:"subject"`
}

func decodeDelivery(body string) (delivery, cloudEvent, error) {
	var d delivery
	var e cloudEvent
	err := json.Unmarshal([]byte(body), &d)
	if err == nil {
		err = json.Unmarshal(d.Detail, &e)
	}
	return d, e, err
}

func (c *capture) record(body string) error {
	d, e, err := decodeDelivery(body)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.events = append(c.events, captured{Event: Event(e), Detail: string(d.Detail), Source: d.Source, Replay: d.ReplayName != ""})
	c.mu.Unlock()
	return nil
}

func (c *capture) snapshot() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.events...)
}

// putEvents puts structured CloudEvents on the bus, as a system with IAM
// rights may (and as the bus's at-least-once delivery may, again).
func (s *stack) putEvents(ctx context.Context, sources, details []string) error {
	for start := 0; start < len(details); start += 10 {
		var entries []ebtypes.PutEventsRequestEntry
		for i := start; i < min(start+10, len(details)); i++ {
			var head struct{ Type string }
			_ = json.Unmarshal([]byte(details[i]), &head)
			entries = append(entries, ebtypes.PutEventsRequestEntry{
				EventBusName: aws.String(naming.EventBus(s.prefix)), Source: aws.String(sources[i]),
				DetailType: aws.String(head.Type), Detail: aws.String(details[i]),
			})
		}
		out, err := s.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return err
		}
		if out.FailedEntryCount != 0 {
			return fmt.Errorf("PutEvents: %d entries failed", out.FailedEntryCount)
		}
	}
	return nil
}
