// Command users/login exchanges email and password for a user token
// (POST /v1/auth/login).
package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		secrets := secretsmanager.NewFromConfig(d.AWS)
		signer := lazySigner(func(ctx context.Context) (*servicetoken.Signer, error) {
			return keystore.LoadSigner(ctx, secrets, d.Config.Prefix, d.Config.Service)
		})
		audience := []string{naming.Audience(d.Config.Prefix)}
		issue := func(ctx context.Context, subject string, ttl time.Duration) (string, time.Time, error) {
			s, err := signer(ctx)
			if err != nil {
				return "", time.Time{}, fmt.Errorf("load signing key: %w", err)
			}
			tok, claims, err := s.Issue(servicetoken.KindUser, subject, audience, nil, ttl)
			return tok, claims.Expiry, err
		}
		return users.Login(users.NewStore(d.DB, d.Config.Table), issue), nil
	})
}

// lazySigner loads the signing key on first use and keeps it: loading it at
// start would put a Secrets Manager call into every cold start. A failed
// load is retried by the next request instead of being cached.
func lazySigner(load func(context.Context) (*servicetoken.Signer, error)) func(context.Context) (*servicetoken.Signer, error) {
	var mu sync.Mutex
	var signer *servicetoken.Signer
	return func(ctx context.Context) (*servicetoken.Signer, error) {
		mu.Lock()
		defer mu.Unlock()
		if signer == nil {
			s, err := load(ctx)
			if err != nil {
				return nil, err
			}
			signer = s
		}
		return signer, nil
	}
}
