// Command platform/authorizer is the API Gateway Lambda authorizer (REQUEST,
// payload 2.0, simple responses): it verifies the bearer token against the
// published public keys and passes principal, kind and scopes on.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shop-serverless/shop/functions/platform"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
	"github.com/shop-serverless/shop/shared/tracing"
)

func main() {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	logger := log.Init(cfg.Function)
	tracing.Init(cfg.Service, cfg.Function)
	aws, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	// Keys are cached for servicetoken.DefaultKeyCacheTTL, which bounds how
	// long a retired key keeps verifying in a warm instance; a new kid is
	// picked up at once (refresh on unknown kid).
	verifier := ssmkeys.NewVerifier(aws, cfg.Prefix)
	// An authorizer exists only behind API Gateway, so this is Lambda-only:
	// the request shape is API Gateway's, not one of the runtime's handler shapes.
	lambda.Start(traced(platform.Authorizer(verifier, logger)))
}

// traced runs each authorization in its invocation span (a subsegment of
// Lambda's), so that the key reads it makes are traced too.
func traced(authorize func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		ctx, span := tracing.Invocation(ctx, "")
		resp, err := authorize(ctx, req)
		span.End(err)
		return resp, err
	}
}
