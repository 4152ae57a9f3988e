// Package awstool configures the AWS SDK for the operator's commands in
// infra/ (keytool, replay). Functions use shared/awsconfig, which stays
// lean for their cold start; a command can afford the SDK's config loader.
//
//	cfg, err := awstool.Config(ctx, endpoint, os.Getenv) // endpoint "" means AWS
package awstool

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/shop-serverless/shop/shared/awsconfig"
)

// EmulatorRegion is where the local emulators put everything.
const EmulatorRegion = "us-east-1"

// Config aims at an emulator when endpoint is set: its region unless the
// environment names one, and test/test credentials unless the environment
// has some. Falling back to the default chain there would send a
// developer's real AWS credentials to a local emulator for nothing.
// Without an endpoint it is AWS, configured as every function is.
func Config(ctx context.Context, endpoint string, getenv func(string) string) (aws.Config, error) {
	if endpoint == "" {
		return awsconfig.Load(ctx)
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = EmulatorRegion
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
