// Command users/login exchanges email and password for a user token
// (POST /v1/auth/login).
package main

import (
	"context"
	"fmt"
	"net/http"
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
		// Reads the signing key on first use, not at cold start, and follows
		// rotations: a signer kept for the life of the instance would go on
		// signing with a retired key.
		signers := keystore.NewSignerSource(secretsmanager.NewFromConfig(d.AWS), d.Config.Prefix, d.Config.Service)
		audience := []string{naming.Audience(d.Config.Prefix)}
		issue := func(ctx context.Context, subject string, ttl time.Duration) (string, time.Time, error) {
			s, err := signers.Signer(ctx)
			if err != nil {
				return "", time.Time{}, fmt.Errorf("load signing key: %w", err)
			}
			tok, claims, err := s.Issue(servicetoken.KindUser, subject, audience, nil, ttl)
			return tok, claims.Expiry, err
		}
		return users.Login(users.NewStore(d.DB, d.Config.Table), issue), nil
	})
}
