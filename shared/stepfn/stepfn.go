// Package stepfn is the wiring every saga step shares, as shared/httpfn is
// for HTTP functions, so that each main shows only what is its own: which
// store and which step.
//
//	func main() {
//		stepfn.Start(orders.ScopeSaga, func(d stepfn.Deps) (func(context.Context, orders.StepIn) (orders.StepOut, error), error) {
//			return orders.MarkConfirmed(orders.NewStore(d.DB, d.Config.Table), d.Faults), nil
//		})
//	}
//
// Start loads the platform's configuration (SHOP_* variables; see
// manifest.Environment), builds the AWS config, a DynamoDB client and the
// function's fault switch (a no-op unless SHOP_FAULTS=1; WithFaults applies
// it to every invocation, keyed by the input's order id), asks
// build for the step and starts it with runtime.StartStep. On Lambda, IAM
// decides who may invoke the step; on Knative a caller needs a verified
// service token granted scope (auth.ServiceCaller), which is why steps
// declare permissions.publicKeys. Any wiring error ends the process at
// once with one JSON line.
package stepfn

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Deps is what build gets to make the step from.
type Deps struct {
	Config config.Function
	AWS    aws.Config       // for clients of other AWS services
	DB     *dynamodb.Client // the service's table is Config.Table
	Faults *faults.Injector // the function's fault switch, read from its table
	Logger *slog.Logger     // the function's logger (log.Init)
}

// Start wires and starts the step; it does not return on Lambda. scope is
// what a Knative caller's service token must grant.
func Start[In, Out any](scope string, build func(Deps) (func(context.Context, In) (Out, error), error)) {
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
	db := dynamodb.NewFromConfig(awsCfg, faults.DynamoDBOptions()...)
	d := Deps{Config: cfg, AWS: awsCfg, DB: db, Faults: faults.New(db, cfg.Table, cfg.Function), Logger: logger}
	fn, err := build(d)
	if err != nil {
		runtime.Fatal("wiring", err)
	}
	fn = WithFaults(d.Faults, fn)
	// The verifier reads the published keys on first use, which on Lambda
	// never comes: the check runs on Knative only.
	runtime.StartStep(fn, auth.ServiceCaller(ssmkeys.NewVerifier(awsCfg, cfg.Prefix), scope))
}

// WithFaults applies injector's fault to each invocation of fn before fn
// runs (faults.Injector.Begin), keyed by the input's "orderId" (every saga
// step's input has one): an error or latency fault acts at once, a crash or
// throttle fault through the step's DynamoDB client. A step that calls
// InjectKey itself later (to fail at a point of its own) finds its fault
// applied already. A disabled injector returns fn itself.
func WithFaults[In, Out any](injector *faults.Injector, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	if !injector.Enabled() {
		return fn
	}
	return func(ctx context.Context, in In) (Out, error) {
		ctx, err := injector.Begin(ctx, orderIDOf(in))
		if err != nil {
			var zero Out
			return zero, err
		}
		return fn(ctx, in)
	}
}

// orderIDOf is the "orderId" of a step's input, "" when it has none.
func orderIDOf(in any) string {
	b, err := json.Marshal(in)
	if err != nil {
		return ""
	}
	var k struct {
		OrderID string `json:"orderId"`
	}
	_ = json.Unmarshal(b, &k) // not an object: no key
	return k.OrderID
}
