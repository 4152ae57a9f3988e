package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// defaultRegion is where the emulators put everything unless told otherwise.
const defaultRegion = "us-east-1"

// clients are the AWS API clients the deployer uses, all aimed at one endpoint.
type clients struct {
	region string
	ddb    *dynamodb.Client
	iam    *iam.Client
	lambda *lambda.Client
	apigw  *apigatewayv2.Client
	sm     *secretsmanager.Client
	sfn    *sfn.Client
	ssm    *ssm.Client
	logs   *cloudwatchlogs.Client
	sts    *sts.Client
	events *eventbridge.Client
	sqs    *sqs.Client
	cw     *cloudwatch.Client
	sns    *sns.Client
}

// deployer applies one deployment model (shared/deployment) to the
// emulator: it decides nothing about what is deployed, only how to get
// there from what the emulator holds.
type deployer struct {
	clients
	model   *deployment.Deployment
	account string
	goarch  string
	p       *progress
	// bindings are the values of the functions' bindings, known once the
	// API and the queues exist (bindings.go).
	bindings bindingValues
	// corsOrigins are the origins the API allows (options.corsOrigins).
	corsOrigins []string
}

// newDeployer learns the emulator's account and builds the model of set
// under prefix for it: every ARN of the model (policies, grants) needs the
// account, which the emulator answers through STS as AWS does.
func newDeployer(ctx context.Context, endpoint string, set *manifest.Set, prefix, goarch string, p *progress, httpClient aws.HTTPClient) (*deployer, error) {
	c, err := newClients(ctx, endpoint, httpClient)
	if err != nil {
		return nil, err
	}
	if err := checkReachable(ctx, endpoint); err != nil {
		return nil, err
	}
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("account of %s (STS GetCallerIdentity): %w", endpoint, err)
	}
	account := aws.ToString(id.Account)
	model, err := deployment.Build(set, deployment.Params{Prefix: prefix, Region: c.region, Account: account})
	if err != nil {
		return nil, err
	}
	return &deployer{clients: c, model: model, account: account, goarch: goarch, p: p}, nil
}

// newClients configures the SDK for a local emulator: region us-east-1 and
// the emulators' conventional test/test credentials unless the environment
// names others. Falling back to the default chain without explicit keys
// would send a developer's real AWS credentials (or an IMDS probe) to a
// local emulator for no benefit.
func newClients(ctx context.Context, endpoint string, httpClient aws.HTTPClient) (clients, error) {
	if err := checkEndpoint(endpoint); err != nil {
		return clients{}, err
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = defaultRegion
	}
	optFns := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		optFns = append(optFns, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return clients{}, fmt.Errorf("aws config: %w", err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	// The SDK's retry quota (a token bucket per client that stops retrying
	// once many calls have failed) guards AWS against retry storms from a
	// fleet; this is one process deploying to one emulator, whose lost
	// responses each need their retry, however many a large stack meets.
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
	}
	if httpClient != nil {
		cfg.HTTPClient = httpClient
	}
	return clients{
		region: region,
		ddb:    dynamodb.NewFromConfig(cfg),
		iam:    iam.NewFromConfig(cfg),
		lambda: lambda.NewFromConfig(cfg),
		apigw:  apigatewayv2.NewFromConfig(cfg),
		sm:     secretsmanager.NewFromConfig(cfg),
		sfn:    sfn.NewFromConfig(cfg),
		ssm:    ssm.NewFromConfig(cfg),
		logs:   cloudwatchlogs.NewFromConfig(cfg),
		sts:    sts.NewFromConfig(cfg),
		events: eventbridge.NewFromConfig(cfg),
		sqs:    sqs.NewFromConfig(cfg),
		cw:     cloudwatch.NewFromConfig(cfg),
		sns:    sns.NewFromConfig(cfg),
	}, nil
}

func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q: want http(s)://host[:port]", endpoint)
	}
	return nil
}

// checkReachable fails at once, with the fix in the message, when nothing
// listens at the endpoint; the SDK would retry and bury the cause in its
// first API error.
func checkReachable(ctx context.Context, endpoint string) error {
	u, _ := url.Parse(endpoint) // checked by checkEndpoint
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	dialer := net.Dialer{Timeout: 3 * time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("no emulator at %s (start one: localstack/ministack.sh start, or set -endpoint/AWS_ENDPOINT_URL): %w", endpoint, err)
	}
	return conn.Close()
}

// apiBaseURL is the path-style invoke URL of an HTTP API's stage. Both
// MiniStack and LocalStack serve /_aws/execute-api/<apiId>/<stage>/ on
// their gateway port, which needs no wildcard DNS for <apiId>.execute-api.
func apiBaseURL(endpoint, apiID, stage string) (string, error) {
	if err := checkEndpoint(endpoint); err != nil {
		return "", err
	}
	if apiID == "" {
		return "", errors.New("api base url: empty API id")
	}
	u, _ := url.Parse(endpoint)
	return u.Scheme + "://" + u.Host + "/_aws/execute-api/" + apiID + "/" + stage, nil
}

// poll calls check every interval until it reports done or fails, for at
// most limit. Emulators differ in which states they model; a bounded poll
// never hangs on one that never reaches the state AWS would.
func poll(ctx context.Context, what string, limit, interval time.Duration, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		done, err := check(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready after %s", what, limit)
		case <-time.After(interval):
		}
	}
}
