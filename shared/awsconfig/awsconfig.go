// Package awsconfig builds the aws.Config every function uses, cheaply.
//
//	cfg, err := awsconfig.Load(ctx)
//
// The SDK's config.LoadDefaultConfig reads shared config files and walks the
// whole credential chain, and merely importing it links the SSO, SSO-OIDC,
// sign-in and STS clients, whose package initialisation alone costs about
// 1 ms of every cold start (measured with GODEBUG=inittrace=1), on top of
// the ~7 ms the call takes. A function needs much less: its region and
// credentials are in the environment on Lambda, and on Kubernetes (Knative)
// they come from a web identity token (IRSA), the container credentials
// endpoint (EKS Pod Identity) or the instance metadata service. Load covers
// exactly those, in the SDK's order of precedence:
//
//  1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN): Lambda,
//     the local emulator, a developer's exported credentials;
//  2. AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: IRSA;
//  3. AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI: Pod Identity, ECS;
//  4. the EC2 instance metadata service.
//
// Shared config files and profiles are not read: to run a function against
// AWS from a laptop, export credentials into the environment
// (`aws configure export-credentials --format env`). AWS_ENDPOINT_URL is
// honoured (the emulator); per-service AWS_ENDPOINT_URL_<SERVICE> is not.
//
// With SHOP_RECORD_AWS_CALLS=1 (awscalls.EnvSwitch; the local deployer sets
// it, Terraform never does) every request sent with the config is recorded
// on stdout, one JSON line per call.
//
// Every config Load returns is traced (tracing.AWS): each call of a client
// made from it is an X-Ray subsegment of the invocation it is made in.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/tracing"
)

// ecsCredentialsHost is where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is
// relative to (ECS and EKS Pod Identity agents).
const ecsCredentialsHost = "http://169.254.170.2"

// Load returns the config for this process's environment.
func Load(_ context.Context) (aws.Config, error) {
	return fromEnv(os.Getenv)
}

func fromEnv(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("awsconfig: no region: set AWS_REGION")
	}
	cfg := aws.Config{Region: region}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	provider, err := credentialsFromEnv(getenv, cfg)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = aws.NewCredentialsCache(provider)
	if getenv(awscalls.EnvSwitch) == "1" {
		// Only the local deployer sets the switch: the emulator does not
		// enforce IAM, so the end-to-end run checks the recorded calls
		// against each function's policy instead (see shared/awscalls).
		cfg.HTTPClient = awscalls.New(nil, os.Stdout)
	}
	// Every call a client of cfg makes is a subsegment of the invocation
	// it is made in.
	tracing.AWS(&cfg)
	return cfg, nil
}

func credentialsFromEnv(getenv func(string) string, base aws.Config) (aws.CredentialsProvider, error) {
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case key != "" && secret != "":
		return credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN")), nil
	case key != "" || secret != "":
		return nil, errors.New("awsconfig: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}
	if file, role := getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), getenv("AWS_ROLE_ARN"); file != "" && role != "" {
		session := getenv("AWS_ROLE_SESSION_NAME")
		if session == "" {
			session = "shop"
		}
		return newWebIdentityProvider(base, role, session, file), nil
	}
	if uri := containerCredentialsURI(getenv); uri != "" {
		return endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
			if file := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
				// Read on every refresh: the agent rotates the token file.
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := os.ReadFile(file)
					return strings.TrimSpace(string(b)), err
				})
			}
		}), nil
	}
	if getenv("AWS_PROFILE") != "" {
		return nil, fmt.Errorf("awsconfig: AWS_PROFILE is set, but functions read credentials from the environment only: " +
			"export them (aws configure export-credentials --format env)")
	}
	if strings.EqualFold(getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil, errors.New("awsconfig: no credentials in the environment and the instance metadata service is disabled")
	}
	return ec2rolecreds.New(), nil
}

func containerCredentialsURI(getenv func(string) string) string {
	if full := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		return full
	}
	if rel := getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		return ecsCredentialsHost + rel
	}
	return ""
}
