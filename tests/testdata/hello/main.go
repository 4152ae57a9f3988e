// The baseline for BenchmarkColdStart: the smallest Lambda function.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, struct{}) (string, error) { return "hello", nil })
}
