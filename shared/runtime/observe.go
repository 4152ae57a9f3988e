package runtime

import (
	"context"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/tracing"
)

// BeginInvocation is what every adapter but the HTTP one (httpapi.Middleware
// does the same for a request) does when an invocation starts: it claims
// the cold start (log.ColdStart), puts a logger with the invocation's
// fields in the context (log.Invocation) and starts its metrics. requestID
// "" means the Lambda request id (lambdacontext), or a new id off Lambda;
// the trace id is ctx's (tracing.Invocation, which the adapters begin
// first). The adapter calls end once with the invocation's failures (a
// failed step: 1; a batch: its failed items), which emits its metrics.
func BeginInvocation(ctx context.Context, requestID, correlationID string) (_ context.Context, end func(failures int)) {
	if requestID == "" {
		requestID = LambdaRequestID(ctx)
	}
	if requestID == "" {
		requestID = uuid.NewString()
	}
	coldStart := log.ColdStart()
	invocation := metrics.Begin(coldStart)
	ctx, _ = log.Invocation(ctx, log.Fields{
		RequestID: requestID, CorrelationID: correlationID,
		TraceID: tracing.TraceID(ctx), ColdStart: coldStart,
	})
	return ctx, invocation.End
}

// LambdaRequestID is the request id of the Lambda invocation ctx belongs
// to; "" off Lambda.
func LambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// observeStep gives each run of a step its invocation's log context and
// metrics (a returned error counts as the step's failure) and, on Lambda,
// logs a failure (stepHandler does on Knative).
func observeStep[In, Out any](fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		ctx, end := BeginInvocation(ctx, "", "")
		out, err := fn(ctx, in)
		failed := 0
		if err != nil {
			failed = 1
			if OnLambda() {
				log.FromContext(ctx).ErrorContext(ctx, "runtime: step failed", "error", err)
			}
		}
		end(failed)
		return out, err
	}
}
