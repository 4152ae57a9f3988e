package consumer

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Handler consumes one CloudEvent, already checked against its schema in
// the catalog. event.Event is the type that github.com/cloudevents/sdk-go/v2
// exports as cloudevents.Event. Returning an error asks for redelivery;
// wrap it with Permanent when no redelivery can help.
type Handler func(ctx context.Context, e event.Event) error

// Deps is what build gets to make the handler from.
type Deps struct {
	Config config.Function
	AWS    aws.Config       // for clients of other AWS services
	DB     *dynamodb.Client // the service's table is Config.Table
	Logger *slog.Logger     // the function's logger (log.Init)
}

// Env is the consumer's own configuration, beyond config.Function.
type Env struct {
	// QueueURL is the consumer's SQS queue (manifest.EnvQueueURL, a
	// binding), where the visibility of failed messages is changed.
	// Required on Lambda.
	QueueURL string `env:"SHOP_QUEUE_URL"`
}

// Start wires the consumer its function's environment describes and
// starts it: the handler build returns, deduplicated through the service's
// table (Claims, named after the function), with the back-off on its queue
// and the fault switch. scope is what a Knative sender's service token must
// grant (auth.ServiceCaller). Any wiring error ends the process at once
// with one JSON line. On Lambda it never returns; on Knative it returns
// after a graceful shutdown.
func Start(scope string, build func(Deps) (Handler, error)) {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	env, err := config.Load[Env]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	logger := log.Init(cfg.Function)
	tracing.Init(cfg.Service, cfg.Function)
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	d := Deps{Config: cfg, AWS: awsCfg, DB: dynamodb.NewFromConfig(awsCfg, faults.DynamoDBOptions()...), Logger: logger}
	h, err := build(d)
	if err != nil {
		runtime.Fatal("wiring", err)
	}
	c := &Consumer{Handle: h, Claims: NewClaims(d.DB, cfg.Table, cfg.Function), Faults: faults.New(d.DB, cfg.Table, cfg.Function)}
	if runtime.OnLambda() {
		if env.QueueURL == "" {
			runtime.Fatal("config", errors.New("SHOP_QUEUE_URL: required on Lambda (the consumer's queue binding)"))
		}
		c.Backoff = NewBackoff(env.QueueURL, func() VisibilityAPI { return sqs.NewFromConfig(awsCfg) })
	}
	// The verifier reads the published keys on first use, which on Lambda
	// never comes: the check runs on Knative only.
	c.Serve(auth.ServiceCaller(ssmkeys.NewVerifier(awsCfg, cfg.Prefix), scope))
}

// Serve runs c on the platform package runtime picks: the SQS event source
// mapping's batches on Lambda (Lambda), or a CloudEvents receiver on
// $PORT behind check on Knative (HTTP).
func (c *Consumer) Serve(check runtime.CallerCheck) {
	if runtime.OnLambda() {
		lambda.Start(c.Lambda)
		return
	}
	runtime.ServeUntilSignal(runtime.Guard(check, c.HTTP()))
}
