// Command platform/authorizer is the API Gateway Lambda authorizer (REQUEST,
// payload 2.0, simple responses): it verifies the bearer token against the
// published public keys and passes principal, kind and scopes on.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shop-serverless/shop/functions/platform"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// keyCacheTTL bounds how long a retired key keeps verifying in a warm
// instance; a new kid is picked up at once (refresh on unknown kid).
const keyCacheTTL = 5 * time.Minute

func main() {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	aws, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	// Not the SDK's SSM client: see ssmkeys (about 1 ms of every cold start).
	keys := ssmkeys.NewSSMKeySource(aws, naming.JWKSParameter(cfg.Prefix), keyCacheTTL)
	verifier := servicetoken.NewVerifier(keys, naming.Audience(cfg.Prefix),
		servicetoken.WithUserIssuer(naming.Issuer(cfg.Prefix, "users")))
	// An authorizer exists only behind API Gateway, so this is Lambda-only:
	// the request shape is API Gateway's, not one of the runtime's handler shapes.
	lambda.Start(platform.Authorizer(verifier, log.New(cfg.Function)))
}
