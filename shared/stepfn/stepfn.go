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
// function's fault switch (a no-op unless SHOP_FAULTS=1; a step applies it
// itself, with Inject or InjectKey, where a failure means something), asks
// build for the step and starts it with runtime.StartStep. On Lambda, IAM
// decides who may invoke the step; on Knative a caller needs a verified
// service token granted scope (auth.ServiceCaller), which is why steps
// declare permissions.publicKeys. Any wiring error ends the process at
// once with one JSON line.
package stepfn

import (
	"context"
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
	db := dynamodb.NewFromConfig(awsCfg)
	d := Deps{Config: cfg, AWS: awsCfg, DB: db, Faults: faults.New(db, cfg.Table, cfg.Function), Logger: logger}
	fn, err := build(d)
	if err != nil {
		runtime.Fatal("wiring", err)
	}
	// The verifier reads the published keys on first use, which on Lambda
	// never comes: the check runs on Knative only.
	runtime.StartStep(fn, auth.ServiceCaller(ssmkeys.NewVerifier(awsCfg, cfg.Prefix), scope))
}
