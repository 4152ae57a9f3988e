// The hello world of ../hello with tracing: BenchmarkColdStart pairs the
// two to show what shared/tracing adds to a cold start (package init and
// Init; nothing else may run before the first invocation).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shop-serverless/shop/shared/tracing"
)

func main() {
	tracing.Init("hello", "hello-traced")
	lambda.Start(func(ctx context.Context, _ struct{}) (string, error) {
		_, span := tracing.Invocation(ctx, "")
		defer span.End(nil)
		return "hello", nil
	})
}
