package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/paymentkey"
	"github.com/shop-serverless/shop/shared/stepfn"
)

// Provider is the payment provider as the steps need it.
type Provider interface {
	// Charge charges amount to source once per orderID (the provider's
	// idempotency key and reference) and returns the charge's id.
	// ErrDeclined for a declined card; ErrUnavailable for no usable answer.
	Charge(ctx context.Context, orderID string, amount money.Money, source string) (string, error)
	// Refund refunds amount of orderID's charge, at most once, and returns
	// the refund's id. errNotCharged when the provider has no charge for
	// the order; ErrUnavailable for no usable answer.
	Refund(ctx context.Context, orderID string, amount int64) (string, error)
}

// errNotCharged: the provider holds no charge under the order's reference.
var errNotCharged = errors.New("payment provider: no charge for this reference")

// Breaker and client settings of the provider calls (the contract's
// "Payment provider"): 3 s per attempt, 3 attempts, one breaker shared by
// every instance of charge and refund.
const (
	BreakerName     = "payment-provider"
	AttemptTimeout  = 3 * time.Second
	MaxAttempts     = 3
	refundKeyPrefix = "refund-"
)

// ProviderConfig is where the provider is and its key, beside
// config.Function (permissions.paymentProvider sets both).
type ProviderConfig struct {
	URL    string `env:"SHOP_PAYMENT_PROVIDER_URL,required" validate:"http_url"`
	Secret string `env:"SHOP_PAYMENT_PROVIDER_SECRET,required"`
}

// HTTPProvider calls the provider's HTTP API through shared/client.
type HTTPProvider struct {
	c *client.Client
}

// NewHTTPProvider returns the provider at baseURL, authenticated by key,
// behind b (nil: no breaker). hc, when set, sends the requests (tests).
func NewHTTPProvider(baseURL string, key client.TokenSource, b *breaker.Breaker, hc *http.Client) (*HTTPProvider, error) {
	c, err := client.New(client.Config{
		Name: BreakerName, BaseURL: baseURL, Tokens: key, Breaker: b,
		Timeout: AttemptTimeout, MaxAttempts: MaxAttempts, HTTPClient: hc,
	})
	if err != nil {
		return nil, err
	}
	return &HTTPProvider{c: c}, nil
}

type chargeRequest struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Source    string `json:"source"`
	Reference string `json:"reference"`
}

type refundRequest struct {
	Reference string `json:"reference"`
	Amount    int64  `json:"amount"`
}

type providerObject struct {
	ID string `json:"id"`
}

// Charge implements Provider: POST /v1/charges, Idempotency-Key = orderID.
func (p *HTTPProvider) Charge(ctx context.Context, orderID string, amount money.Money, source string) (string, error) {
	var out providerObject
	err := p.c.PostJSON(ctx, "/v1/charges", orderID, chargeRequest{Amount: amount.Amount, Currency: amount.Currency, Source: source, Reference: orderID}, &out)
	var se *client.StatusError
	switch {
	case err == nil && out.ID != "":
		return out.ID, nil
	case err == nil:
		return "", fmt.Errorf("%w: the charge answer has no id", ErrUnavailable)
	case errors.As(err, &se) && (se.Status == http.StatusPaymentRequired || se.Status == http.StatusBadRequest):
		// 402: the card was declined. 400: the provider refuses the payment
		// method itself (an unknown or malformed token): asking again cannot
		// succeed, so it is as final as a decline, never retried.
		return "", fmt.Errorf("%w: %w", ErrDeclined, err)
	}
	return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Refund implements Provider: POST /v1/refunds, Idempotency-Key =
// "refund-" + orderID.
func (p *HTTPProvider) Refund(ctx context.Context, orderID string, amount int64) (string, error) {
	var out providerObject
	err := p.c.PostJSON(ctx, "/v1/refunds", refundKeyPrefix+orderID, refundRequest{Reference: orderID, Amount: amount}, &out)
	switch {
	case err == nil && out.ID != "":
		return out.ID, nil
	case err == nil:
		return "", fmt.Errorf("%w: the refund answer has no id", ErrUnavailable)
	case errors.Is(err, client.ErrNotFound):
		return "", errNotCharged
	}
	return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// NewProvider wires the provider of a deployed function: cfg from the
// environment, the API key from Secrets Manager (read on first call), and
// the breaker's state shared through the platform table (db; needs
// permissions.breakers).
func NewProvider(cfg ProviderConfig, awsCfg aws.Config, db *dynamodb.Client, prefix string) (*HTTPProvider, error) {
	settings, err := breaker.SettingsFromEnv(BreakerName)
	if err != nil {
		return nil, err
	}
	b := breaker.New(settings, breaker.NewShared(db, naming.Table(prefix, naming.PlatformService)))
	key := paymentkey.New(func() paymentkey.SecretReader { return secretsmanager.NewFromConfig(awsCfg) }, cfg.Secret)
	return NewHTTPProvider(cfg.URL, key, b, nil)
}

// StartStep starts the payments step that step makes from the service's
// store and the provider: the wiring the charge and refund steps share
// (shared/stepfn does the rest).
func StartStep[In, Out any](step func(*Store, Provider) func(context.Context, In) (Out, error)) {
	stepfn.Start(StepScope, func(d stepfn.Deps) (func(context.Context, In) (Out, error), error) {
		cfg, err := config.Load[ProviderConfig]()
		if err != nil {
			return nil, err
		}
		provider, err := NewProvider(cfg, d.AWS, d.DB, d.Config.Prefix)
		if err != nil {
			return nil, err
		}
		return step(NewStore(d.DB, d.Config.Table), provider), nil
	})
}
