package awsconfig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestFromEnvPicksTheSourceTheSDKWould(t *testing.T) {
	tests := []struct {
		name string
		env  func(string) string
		want aws.CredentialsProvider // the provider's type, or nil for an error
	}{
		{"lambda", env("AWS_REGION", "eu-west-1", "AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b", "AWS_SESSION_TOKEN", "c"), credentials.StaticCredentialsProvider{}},
		{"static wins over web identity", env("AWS_REGION", "r", "AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b", "AWS_WEB_IDENTITY_TOKEN_FILE", "/t", "AWS_ROLE_ARN", "arn"), credentials.StaticCredentialsProvider{}},
		{"irsa", env("AWS_DEFAULT_REGION", "r", "AWS_WEB_IDENTITY_TOKEN_FILE", "/t", "AWS_ROLE_ARN", "arn:aws:iam::1:role/x"), &webIdentityProvider{}},
		{"pod identity", env("AWS_REGION", "r", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"), &endpointcreds.Provider{}},
		{"ecs", env("AWS_REGION", "r", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"), &endpointcreds.Provider{}},
		{"instance metadata last", env("AWS_REGION", "r"), &ec2rolecreds.Provider{}},
		{"no region", env("AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b"), nil},
		{"half a key pair", env("AWS_REGION", "r", "AWS_ACCESS_KEY_ID", "a"), nil},
		{"a profile is refused, not ignored", env("AWS_REGION", "r", "AWS_PROFILE", "dev"), nil},
		{"metadata disabled", env("AWS_REGION", "r", "AWS_EC2_METADATA_DISABLED", "true"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := fromEnv(tt.env)
			if tt.want == nil {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cfg.Credentials.(*aws.CredentialsCache).IsCredentialsProvider(tt.want) {
				t.Fatalf("credentials provider is not a %T", tt.want)
			}
			if cfg.Region == "" {
				t.Fatal("no region")
			}
		})
	}
}

func TestEndpointAndStaticCredentials(t *testing.T) {
	cfg, err := fromEnv(env("AWS_REGION", "eu-west-1", "AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "SECRET",
		"AWS_SESSION_TOKEN", "TOKEN", "AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:4566" {
		t.Fatalf("BaseEndpoint = %v", cfg.BaseEndpoint)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" || creds.SessionToken != "TOKEN" {
		t.Fatalf("credentials = %+v", creds)
	}
}

// Recording is off unless the local deployer's switch is on.
func TestRecorderOnlyWithTheSwitch(t *testing.T) {
	for _, tt := range []struct {
		value  string
		record bool
	}{{"", false}, {"0", false}, {"true", false}, {"1", true}} {
		cfg, err := fromEnv(env("AWS_REGION", "r", "AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b", awscalls.EnvSwitch, tt.value))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg.HTTPClient.(*awscalls.Recorder); ok != tt.record || !tt.record && cfg.HTTPClient != nil {
			t.Errorf("%s=%q: HTTPClient %T, want a recorder: %v", awscalls.EnvSwitch, tt.value, cfg.HTTPClient, tt.record)
		}
	}
}

// The Pod Identity agent wants the token from the file on every refresh.
func TestContainerCredentialsSendTheTokenFile(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2099-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("pod-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := fromEnv(env("AWS_REGION", "r", "AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "A" || gotAuth != "pod-token" {
		t.Fatalf("creds %+v, Authorization %q", creds, gotAuth)
	}
}

func TestLoadNeedsNoSDKConfigPackage(t *testing.T) {
	// The point of this package: its imports must not drag in the SDK's
	// config loader (and with it SSO, SSO-OIDC and sign-in clients).
	// Nor the STS client: IRSA's one call is made by hand (webidentity.go).
	testenv.ForbidDeps(t, ".", "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sso", "github.com/aws/aws-sdk-go-v2/service/signin", "github.com/aws/aws-sdk-go-v2/service/sts")
}

func TestEveryConfigIsTraced(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<GetCallerIdentityResponse><GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	cfg, err := fromEnv(env("AWS_REGION", "us-east-1", "AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "SECRET", "AWS_ENDPOINT_URL", srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	_, _ = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	span.End(nil)
	sub := tracingtest.Named(t, d.Wait(2), "STS")
	if sub.Obj("aws")["operation"] != "GetCallerIdentity" || sub.Str("namespace") != "aws" {
		t.Errorf("subsegment %v", sub)
	}
}
