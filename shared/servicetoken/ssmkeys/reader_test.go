package ssmkeys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/testenv"
)

// fakeSSM answers GetParameter calls with the responses in turn (the last
// one repeats) and records what it received.
type fakeSSM struct {
	responses []fakeResponse

	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

type fakeResponse struct {
	status int
	header map[string]string
	body   string
}

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, r)
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	resp := f.responses[min(n, len(f.responses)-1)]
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(resp.status)
	_, _ = io.WriteString(w, resp.body)
}

func (f *fakeSSM) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.requests) }

// recordingClient is what a test wrapper of the SDK transport looks like
// (shared/awsconfig's recorder): every call through the config's
// HTTPClient passes it.
type recordingClient struct {
	mu      sync.Mutex
	targets []string
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.targets = append(c.targets, r.Header.Get("X-Amz-Target"))
	c.mu.Unlock()
	return http.DefaultClient.Do(r)
}

const found = `{"Parameter":{"Name":"/shop/jwks","Type":"String","Value":"{\"keys\":[]}","Version":3}}`

// newTestReader is a Reader of the fake at srv, with session credentials,
// a pinned clock and no waiting between retries.
func newTestReader(t *testing.T, srv *httptest.Server, client aws.HTTPClient) *Reader {
	t.Helper()
	r := NewReader(aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL + "/"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "session-token"),
		HTTPClient:   client,
	})
	r.now = func() time.Time { return t0 }
	r.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return r
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func serve(t *testing.T, responses ...fakeResponse) (*fakeSSM, *httptest.Server) {
	t.Helper()
	f := &fakeSSM{responses: responses}
	srv := httptest.NewServer(f) // 127.0.0.1
	t.Cleanup(srv.Close)
	return f, srv
}

// The one call is a signed AWS JSON 1.1 GetParameter, sent through the
// config's HTTPClient.
func TestReaderMakesASignedGetParameterCall(t *testing.T) {
	f, srv := serve(t, fakeResponse{status: 200, body: found})
	rec := &recordingClient{}
	value, err := newTestReader(t, srv, rec).ReadParameter(context.Background(), "/shop/jwks")
	if err != nil {
		t.Fatal(err)
	}
	if value != `{"keys":[]}` {
		t.Fatalf("value %q", value)
	}
	if len(rec.targets) != 1 || rec.targets[0] != "AmazonSSM.GetParameter" {
		t.Fatalf("the config's HTTP client saw %q, want the one GetParameter call", rec.targets)
	}
	r, body := f.requests[0], f.bodies[0]
	if r.Method != http.MethodPost || r.URL.Path != "/" || body != `{"Name":"/shop/jwks"}` {
		t.Fatalf("%s %s %s", r.Method, r.URL.Path, body)
	}
	if r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || r.Header.Get("X-Amz-Security-Token") != "session-token" {
		t.Fatalf("headers %v", r.Header)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260301/eu-west-1/ssm/aws4_request, SignedHeaders=") ||
		!strings.Contains(auth, "x-amz-target") || r.Header.Get("X-Amz-Date") != "20260301T120000Z" {
		t.Fatalf("Authorization %q, X-Amz-Date %q", auth, r.Header.Get("X-Amz-Date"))
	}
	// The signature covers the body that was sent: signing what the server
	// received gives the same Authorization.
	again, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	for _, h := range []string{"Content-Type", "X-Amz-Target"} {
		again.Header.Set(h, r.Header.Get(h))
	}
	sum := sha256Hex(body)
	creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", SessionToken: "session-token"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, sum, "ssm", "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	if got := again.Header.Get("Authorization"); got != auth {
		t.Fatalf("signature does not cover the request sent:\n got %s\nwant %s", auth, got)
	}
}

func TestReaderErrors(t *testing.T) {
	throttled := fakeResponse{status: 400, body: `{"__type":"ThrottlingException","message":"Rate exceeded"}`}
	tests := []struct {
		name      string
		responses []fakeResponse
		wantValue string
		wantCode  string // "" for success
		wantCalls int
	}{
		{"not found: no retry", []fakeResponse{{status: 400, header: map[string]string{"X-Amzn-ErrorType": "ParameterNotFound"}, body: `{"__type":"ParameterNotFound","message":"Parameter /shop/jwks not found"}`}}, "", "ParameterNotFound", 1},
		{"namespaced __type", []fakeResponse{{status: 400, body: `{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"nope"}`}}, "", "ParameterNotFound", 1},
		{"header with a URI", []fakeResponse{{status: 400, header: map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/"}, body: `{"Message":"not allowed"}`}}, "", "AccessDeniedException", 1},
		{"throttled, then found", []fakeResponse{throttled, throttled, {status: 200, body: found}}, `{"keys":[]}`, "", 3},
		{"throttled throughout", []fakeResponse{throttled}, "", "ThrottlingException", readAttempts},
		{"429", []fakeResponse{{status: 429, body: ``}, {status: 200, body: found}}, `{"keys":[]}`, "", 2},
		{"server error page", []fakeResponse{{status: 502, body: `<html>Bad Gateway</html>`}}, "", "Bad Gateway", readAttempts},
		{"internal error, then found", []fakeResponse{{status: 500, body: `{"__type":"InternalServerError"}`}, {status: 200, body: found}}, `{"keys":[]}`, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := serve(t, tt.responses...)
			value, err := newTestReader(t, srv, nil).ReadParameter(context.Background(), "/shop/jwks")
			if f.count() != tt.wantCalls {
				t.Errorf("%d calls, want %d", f.count(), tt.wantCalls)
			}
			if tt.wantCode == "" {
				if err != nil || value != tt.wantValue {
					t.Fatalf("ReadParameter = %q, %v; want %q", value, err, tt.wantValue)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.wantCode || !awserr.HasCode(err, tt.wantCode) {
				t.Fatalf("err = %v, want an APIError with code %q", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantCode) {
				t.Fatalf("error %q does not name the code", err)
			}
		})
	}
}

func TestReaderRefusesABrokenAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":     `<html>`,
		"no parameter": `{}`,
		"no value":     `{"Parameter":{"Name":"/shop/jwks"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f, srv := serve(t, fakeResponse{status: 200, body: body})
			if _, err := newTestReader(t, srv, nil).ReadParameter(context.Background(), "/shop/jwks"); err == nil || f.count() != 1 {
				t.Fatalf("err = %v after %d calls; want an error and no retry", err, f.count())
			}
		})
	}
}

// A caller whose context ends stops the retries.
func TestReaderStopsWithItsContext(t *testing.T) {
	f, srv := serve(t, fakeResponse{status: 503, body: ``})
	r := newTestReader(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	_, err := r.ReadParameter(ctx, "/shop/jwks")
	if !errors.Is(err, context.Canceled) || f.count() != 1 {
		t.Fatalf("err = %v after %d calls", err, f.count())
	}
}

func TestReaderEndpoint(t *testing.T) {
	tests := []struct {
		cfg  aws.Config
		want string
	}{
		{aws.Config{Region: "eu-west-1"}, "https://ssm.eu-west-1.amazonaws.com"},
		{aws.Config{Region: "cn-north-1"}, "https://ssm.cn-north-1.amazonaws.com.cn"},
		{aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4566/")}, "http://127.0.0.1:4566"},
	}
	for _, tt := range tests {
		if got := NewReader(tt.cfg).endpoint; got != tt.want {
			t.Errorf("endpoint for %s %v = %s, want %s", tt.cfg.Region, aws.ToString(tt.cfg.BaseEndpoint), got, tt.want)
		}
	}
	for name, cfg := range map[string]aws.Config{
		"no credentials": {Region: "us-east-1"},
		"bad region":     {Region: "us-east-1.evil.example/", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
	} {
		if _, err := NewReader(cfg).ReadParameter(context.Background(), "/p"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A region goes into the endpoint's host name, so nothing but lower-case
// words joined by single hyphens passes.
func TestValidRegion(t *testing.T) {
	for region, want := range map[string]bool{
		"eu-west-1": true, "us-gov-west-1": true, "cn-north-1": true, "local": true,
		"": false, "-eu": false, "eu-": false, "eu--west": false, "EU-west-1": false,
		"us-east-1.evil.example/": false, "us east": false, "eu_west_1": false, "é": false,
	} {
		if got := validRegion(region); got != want {
			t.Errorf("validRegion(%q) = %v, want %v", region, got, want)
		}
	}
}

// Against the emulator: what SSM itself answers, found and not found.
func TestReaderOnEmulator(t *testing.T) {
	emu := awstest.NewEmulator(t)
	ctx := context.Background()
	param := naming.JWKSParameter(emu.Prefix)
	r := NewReader(emu.Config)
	if _, err := r.ReadParameter(ctx, param); !awserr.HasCode(err, "ParameterNotFound") {
		t.Fatalf("missing parameter: %v, want ParameterNotFound", err)
	}
	value := `{"keys":[]}`
	if _, err := emu.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Value: aws.String(value), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadParameter(ctx, param); err != nil || got != value {
		t.Fatalf("ReadParameter = %q, %v; want %q", got, err, value)
	}
}

// The point of Reader: a verifier links neither service client.
func TestLinksNoServiceClient(t *testing.T) {
	testenv.ForbidDeps(t, ".", "github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager")
}

// cannedClient answers every call with one response, without a network.
type cannedClient struct {
	status    int
	errorType string
	body      []byte
}

func (c cannedClient) Do(r *http.Request) (*http.Response, error) {
	h := http.Header{}
	if c.errorType != "" {
		h.Set("X-Amzn-ErrorType", c.errorType)
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

// FuzzReaderAnswer: no answer of SSM (or of whatever stands at its
// endpoint) panics the reader; a 200 gives a value or an error, any other
// status an *APIError with a clean code.
func FuzzReaderAnswer(f *testing.F) {
	f.Add(200, "", []byte(found))
	f.Add(200, "", []byte(`{"Parameter":null}`))
	f.Add(400, "ParameterNotFound", []byte(`{"__type":"ParameterNotFound","message":"x"}`))
	f.Add(400, "", []byte(`{"__type":"com.amazonaws.ssm#ThrottlingException:http://x","Message":"slow"}`))
	f.Add(503, "", []byte(`<html>`))
	f.Add(400, "a:b#c", []byte(`{"__type":7}`))
	f.Fuzz(func(t *testing.T, status int, errorType string, body []byte) {
		status = 200 + (status%400+400)%400 // 200..599
		r := NewReader(aws.Config{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://127.0.0.1:1"),
			Credentials:  credentials.NewStaticCredentialsProvider("a", "b", ""),
			HTTPClient:   cannedClient{status: status, errorType: errorType, body: body},
		})
		r.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		_, err := r.ReadParameter(context.Background(), "/p")
		if status == http.StatusOK {
			return
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("HTTP %d answered %v, want an *APIError", status, err)
		}
		if apiErr.Code == "" || strings.ContainsAny(apiErr.Code, ":#") {
			t.Fatalf("code %q from header %q, body %q", apiErr.Code, errorType, body)
		}
	})
}
