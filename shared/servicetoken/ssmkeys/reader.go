package ssmkeys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/shop-serverless/shop/shared/backoff"
)

// Why not the SDK's SSM client: a process initialises every package it
// links, and github.com/aws/aws-sdk-go-v2/service/ssm/schemas alone measured
// 1.0-1.2 ms of package init (GODEBUG=inittrace=1). Every function with a
// protected route verifies tokens, on a cold-start budget of 2.0 ms over a
// hello-world function. With this Reader instead of the client, the
// authorizer's package initialisation (the sum of the init lines, median of
// 101 runs interleaved with the old build, three times, on a shared 2-core
// machine) fell from 3.12/2.98/2.75 ms to 1.86/1.87/1.70 ms, and its binary
// from 17.3 to 12.7 MB. A verifier needs one call, GetParameter, so Reader
// makes it with the SDK's own parts (the config's credentials, its v4
// signer, its endpoint, its HTTP client, so that anything wrapping the SDK
// transport sees this call too) and decodes SSM's JSON protocol itself. A
// deliberate exception to "prefer a well-kept library over hand-written
// code"; the operator side (package jwksstore) uses the real client.

// ParameterReader reads the current value of one SSM parameter (Reader;
// the tests' fakes).
type ParameterReader interface {
	ReadParameter(ctx context.Context, name string) (string, error)
}

const (
	// readAttempts bounds tries of one read: a throttled or failing SSM is
	// asked again a little, then the key source's own backoff takes over.
	readAttempts = 3
	// retryBase is the first retry's longest wait (full jitter, doubling).
	retryBase = 200 * time.Millisecond
	// attemptTimeout bounds one try, so a stalled connection cannot hold
	// the key source (and every request waiting on it) for long.
	attemptTimeout = 5 * time.Second
	// maxResponseBytes is far above a GetParameter answer (a parameter
	// holds at most 8 KB).
	maxResponseBytes = 1 << 20
)

// Reader makes signed SSM GetParameter calls (permission ssm:GetParameter)
// without the SDK's SSM client. It is safe for concurrent use.
type Reader struct {
	creds    aws.CredentialsProvider
	region   string
	endpoint string
	client   aws.HTTPClient
	signer   *v4.Signer
	now      func() time.Time
	// sleep waits before a retry; tests make it instant.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewReader reads parameters with cfg's credentials and region, at cfg's
// BaseEndpoint (AWS_ENDPOINT_URL, as shared/awsconfig sets it) or else
// SSM's regional endpoint, through cfg.HTTPClient (the SDK's default client
// when it is nil).
func NewReader(cfg aws.Config) *Reader {
	client := cfg.HTTPClient
	if client == nil {
		client = awshttp.NewBuildableClient()
	}
	return &Reader{
		creds:    cfg.Credentials,
		region:   cfg.Region,
		endpoint: endpoint(cfg),
		client:   client,
		signer:   v4.NewSigner(),
		now:      time.Now,
		sleep:    backoff.Sleep,
	}
}

// endpoint is where SSM answers for cfg. FIPS and dual-stack endpoints,
// which the SDK can be configured for, are not needed by this project.
func endpoint(cfg aws.Config) string {
	if ep := aws.ToString(cfg.BaseEndpoint); ep != "" {
		return strings.TrimRight(ep, "/")
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(cfg.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://ssm." + cfg.Region + "." + suffix
}

// APIError is an error answer of SSM. It satisfies smithy.APIError, so
// awserr.HasCode(err, "ParameterNotFound") works as with the SDK's client.
type APIError struct {
	Code       string // "ParameterNotFound", "ThrottlingException", ...
	Message    string
	StatusCode int
	RequestID  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("ssm: %s (HTTP %d, request %s): %s", e.Code, e.StatusCode, e.RequestID, e.Message)
}

// ErrorCode implements smithy.APIError.
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage implements smithy.APIError.
func (e *APIError) ErrorMessage() string { return e.Message }

// ErrorFault implements smithy.APIError.
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

var _ smithy.APIError = (*APIError)(nil)

// throttling reports SSM's (and AWS's generic) answers that mean "ask
// again later"; the SDK retries the same set. A switch, not a map: a
// package-level map is built at every cold start of every verifier.
func throttling(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"RequestThrottled", "RequestLimitExceeded", "SlowDown",
		"PriorRequestNotComplete", "EC2ThrottledException":
		return true
	}
	return false
}

// ReadParameter returns the current value of the parameter name. A
// missing parameter is an *APIError with Code "ParameterNotFound".
// Throttling, server errors and broken connections are tried again, up to
// readAttempts in all; any other answer is returned at once.
func (r *Reader) ReadParameter(ctx context.Context, name string) (string, error) {
	if r.creds == nil {
		return "", errors.New("ssm: no credentials in the AWS config")
	}
	if !validRegion(r.region) {
		return "", fmt.Errorf("ssm: region %q is not a region", r.region)
	}
	body, err := json.Marshal(struct{ Name string }{name})
	if err != nil {
		return "", fmt.Errorf("ssm: encode GetParameter: %w", err)
	}
	var lastErr error
	for attempt := range readAttempts {
		if attempt > 0 {
			// Full jitter: concurrent instances throttled together must not
			// come back together.
			wait := time.Duration(rand.Int64N(int64(retryBase<<(attempt-1)) + 1))
			if err := r.sleep(ctx, wait); err != nil {
				return "", fmt.Errorf("%w (gave up waiting to retry: %w)", lastErr, err)
			}
		}
		value, retry, err := r.attempt(ctx, body)
		if err == nil {
			return value, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return "", lastErr
}

// attempt makes one call; retry says whether another may succeed.
func (r *Reader) attempt(ctx context.Context, body []byte) (value string, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	creds, err := r.creds.Retrieve(ctx)
	if err != nil {
		return "", false, fmt.Errorf("ssm: credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return "", false, fmt.Errorf("ssm: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	hash := sha256.Sum256(body)
	if err := r.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(hash[:]), "ssm", r.region, r.now()); err != nil {
		return "", false, fmt.Errorf("ssm: sign: %w", err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		// A broken connection or a stalled attempt: worth another try, as
		// the SDK does (GetParameter is a read).
		return "", true, fmt.Errorf("ssm: GetParameter: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return "", true, fmt.Errorf("ssm: GetParameter: read answer: %w", err)
	}
	if len(data) > maxResponseBytes {
		return "", false, fmt.Errorf("ssm: GetParameter: answer over %d bytes", maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := decodeError(resp, data)
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || throttling(apiErr.Code)
		return "", retry, apiErr
	}
	var out struct {
		Parameter *struct {
			Value *string
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", false, fmt.Errorf("ssm: GetParameter: answer is not JSON: %w", err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", false, errors.New("ssm: GetParameter: answer has no Parameter.Value")
	}
	return *out.Parameter.Value, false, nil
}

// validRegion reports a region as it may appear in a host name: words of
// lower-case letters and digits joined by single hyphens. Checked by hand,
// not with a regexp compiled at package init: every verifier links this
// package, and the compile would cost each cold start.
func validRegion(region string) bool {
	for word := range strings.SplitSeq(region, "-") {
		if word == "" || strings.ContainsFunc(word, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
			return false
		}
	}
	return true
}

// decodeError reads an AWS JSON 1.1 error answer: the code from the
// X-Amzn-ErrorType header or the body's __type (either may carry a
// namespace before '#' and a URI after ':'), the message from the body.
func decodeError(resp *http.Response, data []byte) *APIError {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(data, &body) // a proxy's HTML page decodes to nothing
	code := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{body.Type, body.Code} {
		if code == "" {
			code = c
		}
	}
	code = sanitizeCode(code)
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	if code == "" {
		code = fmt.Sprintf("HTTP%d", resp.StatusCode) // a status Go has no name for
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageU
	}
	if msg == "" {
		msg = clip(strings.TrimSpace(string(data)))
	}
	return &APIError{Code: code, Message: msg, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-RequestId")}
}

// sanitizeCode keeps the code of "aws.ssm#ParameterNotFound:http://...".
func sanitizeCode(code string) string {
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return strings.TrimSpace(code)
}

// clip shortens a body quoted in an error message.
func clip(s string) string {
	const maxLen = 200
	if len(s) > maxLen {
		return s[:maxLen] + "…"
	}
	return s
}
