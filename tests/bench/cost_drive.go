package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
	"github.com/shop-serverless/shop/tests/internal/apicall"
)

// Outcomes of the orders the cost run places.
const (
	outcomeConfirmed  = "confirmed"    // tok_visa, in stock
	outcomeDeclined   = "declined"     // the provider declines: compensated
	outcomeOutOfStock = "out-of-stock" // more than the stock: the reservation fails
)

// benchStack is the deployed local stack the load and cost sections drive,
// found as the end-to-end tests find it (.local/api-url, AWS_ENDPOINT_URL).
type benchStack struct {
	api, prefix string
	http        *http.Client
	sfn         *sfn.Client
	sagaARN     string
	users       *servicetoken.Signer
	operator    *servicetoken.Signer
}

// errNoStack says the section cannot run: no local stack deployed.
var errNoStack = errors.New("no stack")

func connectStack(ctx context.Context, o options) (*benchStack, error) {
	if ok, why := o.stack(); !ok {
		return nil, fmt.Errorf("%w: %s", errNoStack, why)
	}
	api := o.APIURL
	if os.Getenv("AWS_XRAY_CONTEXT_MISSING") == "" {
		_ = os.Setenv("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR") // the driver is no traced function
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	prefix := os.Getenv("SHOP_PREFIX")
	if prefix == "" {
		prefix = "shop"
	}
	s := &benchStack{api: strings.TrimRight(api, "/"), prefix: prefix, sfn: sfn.NewFromConfig(cfg),
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	sm := secretsmanager.NewFromConfig(cfg)
	if s.users, err = keystore.LoadSigner(ctx, sm, prefix, naming.UserTokenService); err != nil {
		return nil, fmt.Errorf("%w: users signer: %w", errNoStack, err)
	}
	if s.operator, err = keystore.LoadSigner(ctx, sm, prefix, naming.OperatorIssuer); err != nil {
		return nil, fmt.Errorf("%w: operator signer: %w", errNoStack, err)
	}
	name := naming.StateMachine(prefix, "orders", "saga")
	p := sfn.NewListStateMachinesPaginator(s.sfn, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() && s.sagaARN == "" {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: list state machines: %w", errNoStack, err)
		}
		for _, m := range page.StateMachines {
			if aws.ToString(m.Name) == name {
				s.sagaARN = aws.ToString(m.StateMachineArn)
			}
		}
	}
	if s.sagaARN == "" {
		return nil, fmt.Errorf("%w: state machine %s not found", errNoStack, name)
	}
	return s, nil
}

type httpResult = apicall.Response

func (s *benchStack) call(ctx context.Context, method, path string, body any, headers ...string) (httpResult, error) {
	return apicall.Do(ctx, s.http, s.api, method, path, body, headers...)
}

func bearerHeader(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// createProduct adds a product with stock units and returns its id.
func (s *benchStack) createProduct(ctx context.Context, sku string, stock int64) (string, error) {
	op, _, err := s.operator.Issue(servicetoken.KindService, naming.OperatorIssuer, []string{naming.Audience(s.prefix)}, []string{"inventory:write"}, 5*time.Minute)
	if err != nil {
		return "", err
	}
	body := map[string]any{"sku": sku, "name": "Bench widget " + sku, "price": map[string]any{"amount": 1250, "currency": "EUR"}, "stock": stock}
	r, err := s.call(ctx, "POST", "/v1/products", body, bearerHeader(op)...)
	if err != nil || r.Status != http.StatusCreated {
		return "", fmt.Errorf("create product: %d %.200s %v", r.Status, r.Body, err)
	}
	var p struct{ ID string }
	return p.ID, json.Unmarshal(r.Body, &p)
}

// registerUser registers a customer and returns its id and a user token
// signed as login signs it.
func (s *benchStack) registerUser(ctx context.Context, email string) (id, token string, err error) {
	r, err := s.call(ctx, "POST", "/v1/users", map[string]string{"email": email, "password": "correct horse 1", "name": "Bench customer"})
	if err != nil || r.Status != http.StatusCreated {
		return "", "", fmt.Errorf("register: %d %.200s %v", r.Status, r.Body, err)
	}
	var u struct{ ID string }
	if err := json.Unmarshal(r.Body, &u); err != nil {
		return "", "", err
	}
	tok, _, err := s.users.Issue(servicetoken.KindUser, u.ID, []string{naming.Audience(s.prefix)}, nil, 30*time.Minute)
	return u.ID, tok, err
}

// placedOrder is one order of the cost run.
type placedOrder struct {
	ID, Outcome string
	Status      string // the execution's end: SUCCEEDED, FAILED...
	Took        time.Duration
	Transitions int
}

// placeOrder sends POST /v1/orders and returns the order id (202 only).
func (s *benchStack) placeOrder(ctx context.Context, token, key, product string, quantity int64, payment string) (string, error) {
	body := map[string]any{"items": []map[string]any{{"productId": product, "quantity": quantity}}, "paymentMethod": map[string]any{"token": payment}}
	r, err := s.call(ctx, "POST", "/v1/orders", body, append(bearerHeader(token), "Idempotency-Key", key)...)
	if err != nil || r.Status != http.StatusAccepted {
		return "", fmt.Errorf("POST /v1/orders: %d %.200s %v", r.Status, r.Body, err)
	}
	var o struct{ ID string }
	return o.ID, json.Unmarshal(r.Body, &o)
}

func (s *benchStack) executionARN(name string) string {
	return strings.Replace(s.sagaARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// awaitExecution waits for the order's saga execution to end, reading it
// through the SDK (a GET /v1/orders/{id} would add traces of its own to the
// order), and returns its status and history.
func (s *benchStack) awaitExecution(ctx context.Context, orderID string, deadline time.Duration) (string, []sfntypes.HistoryEvent, error) {
	arn := aws.String(s.executionARN(orderID))
	end := time.Now().Add(deadline)
	for {
		d, err := s.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: arn})
		if err == nil && d.Status != sfntypes.ExecutionStatusRunning {
			var events []sfntypes.HistoryEvent
			p := sfn.NewGetExecutionHistoryPaginator(s.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return string(d.Status), nil, err
				}
				events = append(events, page.Events...)
			}
			return string(d.Status), events, nil
		}
		if time.Now().After(end) {
			return "", nil, fmt.Errorf("execution %s not over after %v (last error %v)", orderID, deadline, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// costPlan is what the cost run places: n orders of each outcome.
type costPlan struct{ Confirmed, Declined, OutOfStock int }

// driveCost places the plan's orders, a few at a time, and waits for each
// saga to end. Out-of-stock orders ask for more than the product holds.
func driveCost(ctx context.Context, s *benchStack, plan costPlan, run string) ([]placedOrder, error) {
	product, err := s.createProduct(ctx, "BENCH-"+run, int64(10*(plan.Confirmed+plan.Declined)+10))
	if err != nil {
		return nil, err
	}
	_, token, err := s.registerUser(ctx, "bench-"+run+"@example.com")
	if err != nil {
		return nil, err
	}
	type job struct {
		outcome, payment string
		quantity         int64
	}
	var jobs []job
	for range plan.Confirmed {
		jobs = append(jobs, job{outcomeConfirmed, provider.TokenVisa, 1})
	}
	for range plan.Declined {
		jobs = append(jobs, job{outcomeDeclined, provider.TokenDeclined, 1})
	}
	for range plan.OutOfStock {
		jobs = append(jobs, job{outcomeOutOfStock, provider.TokenVisa, orders.MaxQuantity})
	}
	out := make([]placedOrder, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			began := time.Now()
			id, err := s.placeOrder(ctx, token, fmt.Sprintf("bench-%s-%d", run, i), product, j.quantity, j.payment)
			if err != nil {
				errs[i] = err
				return
			}
			status, history, err := s.awaitExecution(ctx, id, 2*time.Minute)
			out[i] = placedOrder{ID: id, Outcome: j.outcome, Status: status, Took: time.Since(began), Transitions: transitions(history)}
			errs[i] = err
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// transitions counts what AWS bills a standard workflow for: every state
// entered, and every retry of a Task (each attempt after a state's first
// is a transition of its own).
func transitions(history []sfntypes.HistoryEvent) int {
	n := 0
	scheduled := false
	for _, e := range history {
		t := string(e.Type)
		switch {
		case strings.HasSuffix(t, "StateEntered"):
			n++
			scheduled = false
		case t == string(sfntypes.HistoryEventTypeLambdaFunctionScheduled) || t == string(sfntypes.HistoryEventTypeTaskScheduled):
			if scheduled {
				n++ // a retry
			}
			scheduled = true
		}
	}
	return n
}
