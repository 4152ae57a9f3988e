package awsconfig

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// webIdentityProvider is IRSA's credentials: STS AssumeRoleWithWebIdentity
// with the projected service-account token. It replaces the SDK's
// stscreds.WebIdentityRoleProvider because that one needs the STS client,
// whose packages (its schemas and endpoints, the Query protocol, SigV4a)
// every function linked, and initialised on every cold start (about
// 0.25 ms, measured with GODEBUG=inittrace=1), to serve only Knative pods.
// The call is small and unsigned (the token is the proof): one form POST,
// one XML answer.
type webIdentityProvider struct {
	client    *http.Client
	endpoint  string // STS, regional as the SDK uses it, or AWS_ENDPOINT_URL
	roleARN   string
	session   string
	tokenFile string // read on every refresh: the kubelet rotates it
}

// webIdentitySource is the Source of the credentials, the SDK's name for
// the same provider (stscreds.WebIdentityProviderName).
const webIdentitySource = "WebIdentityCredentials"

func newWebIdentityProvider(base aws.Config, roleARN, session, tokenFile string) *webIdentityProvider {
	endpoint := "https://sts." + base.Region + ".amazonaws.com"
	if strings.HasPrefix(base.Region, "cn-") {
		endpoint += ".cn"
	}
	if base.BaseEndpoint != nil {
		endpoint = *base.BaseEndpoint
	}
	return &webIdentityProvider{client: &http.Client{Timeout: 30 * time.Second}, endpoint: endpoint, roleARN: roleARN, session: session, tokenFile: tokenFile}
}

// webIdentityAttempts is how often Retrieve tries: like the SDK's standard
// retryer, three attempts for throttling, 5xx answers, network errors and
// IDPCommunicationError (the identity provider did not answer STS in time).
const webIdentityAttempts = 3

// Retrieve implements aws.CredentialsProvider.
func (p *webIdentityProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	token, err := os.ReadFile(p.tokenFile)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("awsconfig: web identity token: %w", err)
	}
	form := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {p.roleARN},
		"RoleSessionName":  {p.session},
		"WebIdentityToken": {strings.TrimSpace(string(token))},
	}.Encode()
	var last error
	for attempt := range webIdentityAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return aws.Credentials{}, ctx.Err()
			}
		}
		creds, retry, err := p.assume(ctx, form)
		if err == nil {
			return creds, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return aws.Credentials{}, fmt.Errorf("awsconfig: AssumeRoleWithWebIdentity %s: %w", p.roleARN, last)
}

// assume makes one call; retry says whether another attempt may succeed.
func (p *webIdentityProvider) assume(ctx context.Context, form string) (_ aws.Credentials, retry bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, strings.NewReader(form))
	if err != nil {
		return aws.Credentials{}, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return aws.Credentials{}, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return aws.Credentials{}, true, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(body, &e) // a body that is not STS's error XML leaves the status alone to report
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			e.Code == "IDPCommunicationError" || e.Code == "Throttling" || e.Code == "ThrottlingException"
		return aws.Credentials{}, retry, fmt.Errorf("status %d %s: %s", resp.StatusCode, e.Code, e.Message)
	}
	var ok struct {
		AccessKeyID     string    `xml:"AssumeRoleWithWebIdentityResult>Credentials>AccessKeyId"`
		SecretAccessKey string    `xml:"AssumeRoleWithWebIdentityResult>Credentials>SecretAccessKey"`
		SessionToken    string    `xml:"AssumeRoleWithWebIdentityResult>Credentials>SessionToken"`
		Expiration      time.Time `xml:"AssumeRoleWithWebIdentityResult>Credentials>Expiration"`
		AssumedRoleARN  string    `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser>Arn"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil {
		return aws.Credentials{}, false, fmt.Errorf("answer: %w", err)
	}
	if ok.AccessKeyID == "" || ok.SecretAccessKey == "" {
		return aws.Credentials{}, false, errors.New("answer holds no credentials")
	}
	return aws.Credentials{
		AccessKeyID: ok.AccessKeyID, SecretAccessKey: ok.SecretAccessKey, SessionToken: ok.SessionToken,
		Source: webIdentitySource, CanExpire: true, Expires: ok.Expiration,
		AccountID: accountOf(ok.AssumedRoleARN),
	}, false, nil
}

// accountOf is the account of arn:aws:sts::<account>:assumed-role/..., as
// the SDK's provider fills it in (account-based endpoints use it).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
