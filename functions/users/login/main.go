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
	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/store"
)

func main() {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	aws, err := awsconfig.Load(context.Background())
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	db, err := store.NewDynamoDB(context.Background())
	if err != nil {
		runtime.Fatal("dynamodb client", err)
	}
	secrets := secretsmanager.NewFromConfig(aws)
	signer := lazySigner(func(ctx context.Context) (*servicetoken.Signer, error) {
		return servicetoken.LoadSigner(ctx, secrets, cfg.Prefix, cfg.Service)
	})
	audience := []string{naming.Audience(cfg.Prefix)}
	issue := func(ctx context.Context, subject string, ttl time.Duration) (string, time.Time, error) {
		s, err := signer(ctx)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("load signing key: %w", err)
		}
		tok, claims, err := s.Issue(servicetoken.KindUser, subject, audience, nil, ttl)
		return tok, claims.Expiry, err
	}
	var h http.Handler = users.Login(users.NewStore(db, cfg.Table), issue)
	// Faults sit outside auth so that a test can make the whole function fail
	// (SHOP_FAULTS=1 only: a no-op everywhere else).
	h = faults.New(db, cfg.Table, cfg.Function).Middleware(auth.Require(cfg.Auth, h))
	runtime.StartHTTP(httpapi.Middleware(log.New(cfg.Function), h))
}

// lazySigner loads the signing key on first use and keeps it; a failed load
// is retried by the next request instead of being cached.
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
