// Package stepwire is the wiring every saga step shares, as shared/httpfn
// is for HTTP functions, so that each main shows only what is its own:
// which store and which step.
//
//	func main() {
//		stepwire.Start("inventory:saga", func(d stepwire.Deps) (func(context.Context, inventory.OrderIn) (inventory.StepOut, error), error) {
//			return inventory.Release(inventory.NewStore(d.DB, d.Config.Table)), nil
//		})
//	}
//
// Start loads the platform's configuration (SHOP_* variables), initialises
// the logger, builds the AWS config and a DynamoDB client, asks build for
// the step and starts it with runtime.StartStep: on Lambda as a Step
// Functions task, on Knative behind POST with auth.ServiceCaller, which
// admits only a service token granted scope. Any wiring error ends the
// process at once with one JSON line.
package stepwire

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// Deps is what build gets to make the step from.
type Deps struct {
	Config config.Function
	AWS    aws.Config       // for clients of other AWS services
	DB     *dynamodb.Client // the service's table is Config.Table
	Logger *slog.Logger
}

// Start wires and starts the step; it does not return on Lambda. scope is
// what a Knative caller's service token must grant.
func Start[In, Out any](scope string, build func(Deps) (func(context.Context, In) (Out, error), error)) {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	logger := log.Init(cfg.Function)
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	d := Deps{Config: cfg, AWS: awsCfg, DB: dynamodb.NewFromConfig(awsCfg), Logger: logger}
	step, err := build(d)
	if err != nil {
		runtime.Fatal("wiring", err)
	}
	// The verifier reads the published keys on first use, which happens on
	// Knative only: on Lambda IAM decides who may invoke a step.
	runtime.StartStep(step, auth.ServiceCaller(ssmkeys.NewVerifier(awsCfg, cfg.Prefix), scope))
}
