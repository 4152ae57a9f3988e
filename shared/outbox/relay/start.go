package relay

import (
	"context"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/runtime/stream"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/tracing"
)

// EnvDeadLetterQueueURL is the relay's dead-letter queue (a binding;
// manifest.EnvDeadLetterQueueURL, which a test keeps equal).
const EnvDeadLetterQueueURL = "SHOP_DEAD_LETTER_QUEUE_URL"

// env is what a relay's deployment gives it beyond config.Function: its
// queue here, its bus in eventbus.EnvEventBus (or K_SINK).
type env struct {
	DeadLetterQueueURL string `env:"SHOP_DEAD_LETTER_QUEUE_URL,required" validate:"http_url"`
}

// Start wires the relay from the environment (manifest.Environment, the
// bus, the dead-letter queue's binding) and starts it with stream.Start; it
// does not return on Lambda. No AWS client is made at start: the bus's and
// the queue's on first use, DynamoDB's only for the fault switch
// (SHOP_FAULTS=1, local stacks). Any wiring error ends the process with one
// JSON line.
func Start() {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	log.Init(cfg.Function)
	tracing.Init(cfg.Service, cfg.Function)
	e, err := config.Load[env]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	publisher, err := eventbus.FromEnv()
	if err != nil {
		runtime.Fatal("event bus", err)
	}
	var db store.DB
	if os.Getenv(faults.EnvSwitch) == "1" {
		db = dynamodb.NewFromConfig(awsCfg)
	}
	deadLetters := sync.OnceValue(func() DeadLetters { return sqs.NewFromConfig(awsCfg) })
	r := New(publisher, deadLetters, e.DeadLetterQueueURL, faults.New(db, cfg.Table, cfg.Function))
	stream.Start(observed(r.Handle), stream.Source{Table: cfg.Table, AWS: awsCfg, Filter: IsOutboxInsert})
}

// observed gives each batch its invocation's log context and metrics (a
// failed batch is one error: it comes again whole).
func observed(h stream.Handler) stream.Handler {
	return func(ctx context.Context, batch events.DynamoDBEvent) error {
		ctx, end := runtime.BeginInvocation(ctx, "", "")
		err := h(ctx, batch)
		failed := 0
		if err != nil {
			failed = 1
			if runtime.OnLambda() { // the poller logs it on Knative
				log.FromContext(ctx).ErrorContext(ctx, "relay: batch failed; it comes again", "error", err)
			}
		}
		end(failed)
		return err
	}
}
