package faults

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

// plan is what an invocation's context carries once its fault is applied
// (Begin, Middleware): nil when nothing is left to do, else a crash or
// throttle for the function's DynamoDB client.
type plan struct {
	mode string
	exit func(code int)
	once sync.Once // a crash happens once, even if exit returns (tests)
	// spend clears a keyed crash fault's switch before the crash (nil for
	// a fault without a Key).
	spend func(ctx context.Context) error
}

type planKey struct{}

// withPlan records that ctx's invocation had its fault applied, leaving p
// (nil: nothing) for its DynamoDB calls.
func withPlan(ctx context.Context, p *plan) context.Context {
	return context.WithValue(ctx, planKey{}, p)
}

// decided reports a context whose invocation had its fault applied.
func decided(ctx context.Context) bool {
	_, ok := ctx.Value(planKey{}).(*plan)
	return ok
}

func planOf(ctx context.Context) *plan {
	p, _ := ctx.Value(planKey{}).(*plan)
	return p
}

// middlewareID names the client middleware in the SDK's stack.
const middlewareID = "shop/faults.DynamoDB"

// DynamoDBOptions are the options that let crash and throttle faults reach
// a function's DynamoDB client; nil unless SHOP_FAULTS is "1", so a client
// made with them on AWS is the SDK's own:
//
//	db := dynamodb.NewFromConfig(awsCfg, faults.DynamoDBOptions()...)
//
// The middleware acts only on calls whose context carries a crash or
// throttle fault (from Begin or Middleware) and is not the platform's
// bookkeeping (store.Machinery). It runs before the SDK's retries: a
// throttle fails the call once, as the SDK reports throttling whose retries
// are spent.
func DynamoDBOptions() []func(*dynamodb.Options) {
	if os.Getenv(EnvSwitch) != "1" {
		return nil
	}
	return []func(*dynamodb.Options){dynamoDBOption}
}

func dynamoDBOption(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(middlewareID, dynamoDBFault), middleware.Before)
	})
}

// writes are the operations whose success commits a function's change.
var writes = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}

func dynamoDBFault(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	p := planOf(ctx)
	if p == nil || store.IsMachinery(ctx) {
		return next.HandleInitialize(ctx, in)
	}
	operation := awsmiddleware.GetOperationName(ctx)
	switch p.mode {
	case ModeThrottle:
		log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "injected throttling", slog.String("operation", operation))
		return middleware.InitializeOutput{}, middleware.Metadata{}, &types.ProvisionedThroughputExceededException{
			Message: aws.String(fmt.Sprintf("injected fault: the level of configured provisioned throughput for the table was exceeded (%s)", operation)),
		}
	case ModeCrash:
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil && writes[operation] {
			crash(ctx, p, "dynamodb:"+operation)
		}
		return out, md, err
	}
	return next.HandleInitialize(ctx, in)
}

// Committed tells the fault switch that the function's change is
// committed by something other than its DynamoDB client (a relay's
// publish): under a crash fault, the process exits now.
func Committed(ctx context.Context, what string) {
	if p := planOf(ctx); p != nil && p.mode == ModeCrash {
		crash(ctx, p, what)
	}
}

// crash logs one line and exits, as a process killed after its write. A
// keyed crash is spent first: its switch is cleared, so that the retry of
// the crashed invocation runs (a crash is an event, not a state).
func crash(ctx context.Context, p *plan, after string) {
	p.once.Do(func() {
		if p.spend != nil {
			if err := p.spend(context.WithoutCancel(ctx)); err != nil {
				log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "faults: cannot clear the keyed crash; it stays on",
					slog.String("error", err.Error()))
			}
		}
		// The function's logger names the function already.
		log.FromContext(ctx).LogAttrs(ctx, slog.LevelError, "injected crash",
			slog.String("after", after), slog.Int("exitCode", CrashExitCode))
		p.exit(CrashExitCode)
	})
}
