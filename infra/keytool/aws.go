package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// emulatorRegion is where the local emulators put everything.
const emulatorRegion = "us-east-1"

// awsKeys runs the commands with Secrets Manager and SSM.
type awsKeys struct {
	sm     *secretsmanager.Client
	ssm    *ssm.Client
	jwks   *jwksstore.Store // over ssm
	prefix string
}

func connectAWS(ctx context.Context, endpoint, prefix string, getenv func(string) string) (keyStore, error) {
	cfg, err := loadConfig(ctx, endpoint, getenv)
	if err != nil {
		return nil, err
	}
	ssmClient := ssm.NewFromConfig(cfg)
	return &awsKeys{
		sm:     secretsmanager.NewFromConfig(cfg),
		ssm:    ssmClient,
		jwks:   jwksstore.New(ssmClient, naming.JWKSParameter(prefix)),
		prefix: prefix,
	}, nil
}

// loadConfig aims at an emulator when endpoint is set: its region unless
// the environment names one, and test/test credentials unless the
// environment has some. Falling back to the default chain there would send
// a developer's real AWS credentials to a local emulator for nothing.
// Without an endpoint it is AWS, configured as every function is.
func loadConfig(ctx context.Context, endpoint string, getenv func(string) string) (aws.Config, error) {
	if endpoint == "" {
		return awsconfig.Load(ctx)
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = emulatorRegion
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config for %s: %w", endpoint, err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	return cfg, nil
}

func (k *awsKeys) EnsureIssuer(ctx context.Context, service string, policy servicetoken.Policy) (bool, error) {
	return keystore.EnsureIssuer(ctx, k.sm, k.jwks, k.prefix, service, policy)
}

func (k *awsKeys) Rotate(ctx context.Context, service string, policy servicetoken.Policy) (string, error) {
	return keystore.Rotate(ctx, k.sm, k.jwks, k.prefix, service, policy)
}

func (k *awsKeys) Retire(ctx context.Context, service, kid string) error {
	return keystore.Retire(ctx, k.sm, k.jwks, k.prefix, service, kid)
}

func (k *awsKeys) LoadSigner(ctx context.Context, service string) (*servicetoken.Signer, error) {
	return keystore.LoadSigner(ctx, k.sm, k.prefix, service)
}
