package awsconfig

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/shared/testenv"
)

// stsAnswer is AssumeRoleWithWebIdentity's answer as STS writes it.
const stsAnswer = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:shop:orders</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/orders/shop</Arn>
      <AssumedRoleId>AROA:shop</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>secret</SecretAccessKey>
      <SessionToken>session-token</SessionToken>
      <Expiration>2030-01-02T03:04:05Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`

func webIdentityEnv(t *testing.T, endpoint string) (func(string) string, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return env("AWS_REGION", "us-east-1", "AWS_ENDPOINT_URL", endpoint, "AWS_WEB_IDENTITY_TOKEN_FILE", file,
		"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/orders", "AWS_ROLE_SESSION_NAME", "orders-pod"), file
}

func TestWebIdentityAssumesTheRoleWithTheCurrentToken(t *testing.T) {
	var forms []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.Header.Get("Authorization") != "" {
			t.Errorf("request %s %v, Authorization %q (the call is unsigned)", r.Method, err, r.Header.Get("Authorization"))
		}
		f := map[string]string{}
		for k := range r.PostForm {
			f[k] = r.PostForm.Get(k)
		}
		forms = append(forms, f)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(stsAnswer))
	}))
	defer srv.Close()
	getenv, tokenFile := webIdentityEnv(t, srv.URL)
	cfg, err := fromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token", Source: webIdentitySource,
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), AccountID: "123456789012"}
	if creds != want {
		t.Errorf("credentials %+v, want %+v", creds, want)
	}
	wantForm := map[string]string{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::123456789012:role/orders",
		"RoleSessionName": "orders-pod", "WebIdentityToken": "token-1"}
	if len(forms) != 1 || !maps.Equal(forms[0], wantForm) {
		t.Fatalf("forms %v, want one %v", forms, wantForm)
	}
	// The kubelet rotates the token: the next refresh sends the new one.
	if err := os.WriteFile(tokenFile, []byte("token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newWebIdentityProvider(cfg, "arn:aws:iam::123456789012:role/orders", "s", tokenFile)
	if _, err := p.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := forms[len(forms)-1]["WebIdentityToken"]; got != "token-2" {
		t.Errorf("refresh sent token %q, want the rotated one", got)
	}
}

func TestWebIdentityRetriesOnlyWhatMaySucceed(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		body      string
		wantCalls int32
		wantErr   string
	}{
		{"provider unreachable, then fine", http.StatusBadRequest, `<ErrorResponse><Error><Code>IDPCommunicationError</Code><Message>try again</Message></Error></ErrorResponse>`, 2, ""},
		{"5xx, then fine", http.StatusServiceUnavailable, `oops`, 2, ""},
		{"a bad token is final", http.StatusBadRequest, `<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>expired</Message></Error></ErrorResponse>`, 1, "InvalidIdentityToken: expired"},
		{"access denied is final", http.StatusForbidden, `<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>`, 1, "AccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
					return
				}
				_, _ = w.Write([]byte(stsAnswer))
			}))
			defer srv.Close()
			getenv, _ := webIdentityEnv(t, srv.URL)
			cfg, err := fromEnv(getenv)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			switch {
			case tt.wantErr == "" && (err != nil || creds.AccessKeyID != "ASIAEXAMPLE"):
				t.Errorf("credentials %+v, error %v", creds, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestWebIdentityEndpointIsRegional(t *testing.T) {
	for region, want := range map[string]string{"eu-west-1": "https://sts.eu-west-1.amazonaws.com", "cn-north-1": "https://sts.cn-north-1.amazonaws.com.cn"} {
		if got := newWebIdentityProvider(aws.Config{Region: region}, "r", "s", "f").endpoint; got != want {
			t.Errorf("%s: endpoint %q, want %q", region, got, want)
		}
	}
}

// The hand-made call against a real STS implementation (the emulator's):
// what the SDK's own provider gets from the same endpoint, ours gets too.
func TestWebIdentityAgainstTheEmulator(t *testing.T) {
	testenv.RequireEmulator(t)
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := aws.Config{Region: "us-east-1", BaseEndpoint: &endpoint, Credentials: aws.AnonymousCredentials{}}
	role := "arn:aws:iam::000000000000:role/shop-orders"
	ours, err := newWebIdentityProvider(base, role, "shop", file).Retrieve(context.Background())
	if err != nil {
		t.Fatalf("our AssumeRoleWithWebIdentity: %v", err)
	}
	sdk, err := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(base), role, stscreds.IdentityTokenFile(file),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "shop" }).Retrieve(context.Background())
	if err != nil {
		t.Fatalf("the SDK's AssumeRoleWithWebIdentity: %v", err)
	}
	if ours.AccessKeyID == "" || ours.SecretAccessKey == "" || ours.SessionToken == "" {
		t.Errorf("our credentials are incomplete: %+v", ours)
	}
	if !ours.CanExpire || !ours.Expires.After(time.Now()) {
		t.Errorf("our credentials expire at %v (can expire: %v), want a time to come", ours.Expires, ours.CanExpire)
	}
	if ours.Source != sdk.Source || ours.AccountID != sdk.AccountID || ours.CanExpire != sdk.CanExpire {
		t.Errorf("ours: source %q, account %q, can expire %v; the SDK's: %q, %q, %v",
			ours.Source, ours.AccountID, ours.CanExpire, sdk.Source, sdk.AccountID, sdk.CanExpire)
	}
	if d := ours.Expires.Sub(sdk.Expires); d < -time.Minute || d > time.Minute {
		t.Errorf("ours expire at %v, the SDK's at %v", ours.Expires, sdk.Expires)
	}
}
