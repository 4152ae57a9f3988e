// caller stands in, in the system tests, for a service that depends on the
// users service (as orders will): GET /users/{id} reads the user through
// shared/client with a service token and a circuit breaker whose state is
// shared through the platform table. It runs in Knative mode (an HTTP server
// on $PORT), so a test can start two of them as two separate instances.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
	"github.com/shop-serverless/shop/shared/store"
)

func main() {
	ctx := context.Background()
	prefix, usersURL := os.Getenv("SHOP_PREFIX"), os.Getenv("USERS_URL")
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		runtime.Fatal("aws config", err)
	}
	db, err := store.NewDynamoDB(ctx)
	if err != nil {
		runtime.Fatal("dynamodb", err)
	}
	// BREAKER_NAME keeps a test's breaker apart from the stack's own "users"
	// breaker, which orders-create shares through the same table: tripping
	// it on purpose must not fail the orders other tests place meanwhile.
	name := os.Getenv("BREAKER_NAME")
	if name == "" {
		name = "users"
	}
	settings, err := breaker.SettingsFromEnv(name)
	if err != nil {
		runtime.Fatal("breaker settings", err)
	}
	b := breaker.New(settings, breaker.NewShared(db, naming.Table(prefix, naming.PlatformService)))
	// It signs as the operator issuer, which has no function of its own, so
	// its tokens may name only the operator's subject (manifest.OperatorPolicy).
	sm := secretsmanager.NewFromConfig(cfg)
	signers := keystore.NewSignerSource(sm, prefix, naming.OperatorIssuer)
	tokens := servicetoken.NewTokenSource(signers.Signer, naming.OperatorIssuer, naming.Audience(prefix), []string{"users:read"}, servicetoken.MaxServiceTTL)
	users, err := client.New(client.Config{Name: "users", BaseURL: usersURL, Tokens: tokens, Breaker: b, MaxAttempts: 1})
	if err != nil {
		runtime.Fatal("client", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var u map[string]any
		if err := users.GetJSON(r.Context(), "/v1/users/"+r.PathValue("id"), &u); err != nil {
			return client.HTTPError(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, u)
		return nil
	}))
	mux.HandleFunc("GET /breaker", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"state": b.State(r.Context())})
	})
	runtime.StartHTTP(httpapi.Middleware(log.New("caller"), mux))
}
