package ssmkeys

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/shop-serverless/shop/shared/servicetoken"
)

// BenchmarkVerifyKeyCache is a service token's verification as a function
// does it (NewVerifier's verifier: keys from the JWKS parameter):
//
//	cold   a new key source each time: one signed GetParameter to a local
//	       stand-in of SSM over a kept-alive connection (the function's
//	       HTTP client is shared), the JWKS parsed, then the check; what
//	       the first request of an instance, or the first after the TTL,
//	       pays (minus the network)
//	warm   the key set cached: header and claims decoded, one Ed25519
//	       signature check
func BenchmarkVerifyKeyCache(b *testing.B) {
	f := newFixture()
	jwks := jwksOf(b, usersIssuer, usersKID, f.usersKey, ordersIssuer, ordersKID, f.ordersKey)
	answer, err := json.Marshal(map[string]any{"Parameter": map[string]any{"Name": testParam, "Type": "String", "Value": jwks, "Version": 3}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "session-token"),
		HTTPClient:   awshttp.NewBuildableClient(),
	}
	token := signRaw(f.ordersKey, edHeader(ordersKID), claimsAt(ordersIssuer, time.Now(), servicetoken.MaxServiceTTL))
	newVerifier := func() *servicetoken.Verifier {
		return servicetoken.NewVerifier(NewSSMKeySource(cfg, testParam, 0), testAudience)
	}
	ctx := context.Background()
	warm := newVerifier()
	for _, bc := range []struct {
		name     string
		verifier func() *servicetoken.Verifier
	}{
		{"cold", newVerifier},
		{"warm", func() *servicetoken.Verifier { return warm }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.verifier().Verify(ctx, token, "users:read"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
