// Package httpfn is the wiring every HTTP function shares, so that each main
// shows only what is its own: which store and which handler.
//
//	func main() {
//		httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
//			return users.Get(users.NewStore(d.DB, d.Config.Table)), nil
//		})
//	}
//
// Start loads the platform's configuration (SHOP_* variables; see
// manifest.Environment), builds the AWS config and a DynamoDB client, asks
// build for the handler and serves it wrapped, outermost first, in
//
//	httpapi.Middleware  request and correlation ids, access log, panics -> 500 problem
//	faults              the test-only fault switch (a no-op unless SHOP_FAULTS=1)
//	auth.Require        the caller's bearer token, verified here, and the route's
//	                    declared auth (SHOP_AUTH)
//
// on Lambda or Knative (shared/runtime). Any wiring error ends the process at
// once with one JSON line: a function that cannot be wired must not serve.
package httpfn

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Deps is what build gets to make the handler from.
type Deps struct {
	Config   config.Function
	AWS      aws.Config       // for clients of other AWS services
	DB       *dynamodb.Client // the service's table is Config.Table
	Verifier auth.Verifier    // checks callers' tokens; reads the keys on first use
	Logger   *slog.Logger     // the function's logger (log.Init); nil: slog's default
}

// Start wires and serves the function; it does not return on Lambda.
func Start(build func(Deps) (http.Handler, error)) {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	logger := log.Init(cfg.Function)
	tracing.Init(cfg.Service, cfg.Function)
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	d := Deps{Config: cfg, AWS: awsCfg, DB: dynamodb.NewFromConfig(awsCfg, faults.DynamoDBOptions()...), Verifier: ssmkeys.NewVerifier(awsCfg, cfg.Prefix), Logger: logger}
	h, err := build(d)
	if err != nil {
		runtime.Fatal("wiring", err)
	}
	runtime.StartHTTP(Wrap(d, h))
}

// Wrap applies the standard middleware to h (Start uses it; tests may too).
func Wrap(d Deps, h http.Handler) http.Handler {
	h = auth.Require(d.Config.Auth, d.Verifier, h)
	h = faults.New(d.DB, d.Config.Table, d.Config.Function).Middleware(h)
	return httpapi.Middleware(d.Logger, h)
}
