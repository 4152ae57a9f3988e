package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/infra/internal/awstool"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// awsKeys runs the commands with Secrets Manager and SSM.
type awsKeys struct {
	sm     *secretsmanager.Client
	ssm    *ssm.Client
	jwks   *jwksstore.Store // over ssm
	prefix string
}

func connectAWS(ctx context.Context, endpoint, prefix string, getenv func(string) string) (keyStore, error) {
	cfg, err := awstool.Config(ctx, endpoint, getenv)
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
