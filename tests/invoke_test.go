package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/testenv"
)

// invokeDirect calls a deployed HTTP function the way anything in the
// account holding lambda:InvokeFunction can: with an API Gateway event it
// made up, authorizer context included.
func invokeDirect(t *testing.T, function string, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	testenv.RequireEmulator(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.Headers {
		recordHeader(k, v)
	}
	recordJSON([]byte(req.Body))
	out, err := lambda.NewFromConfig(cfg).Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(naming.Function(prefix(), function)),
		Payload:      payload,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.FunctionError != nil {
		t.Fatalf("%s failed: %s: %s", function, aws.ToString(out.FunctionError), out.Payload)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		t.Fatalf("%s answered %s: %v", function, out.Payload, err)
	}
	return resp
}

// A function behind a protected route believes no authorizer context it
// cannot check against the caller's own token.
func TestDirectInvocationCannotForgeIdentity(t *testing.T) {
	t.Parallel()
	skipOnKnative(t, "this forges API Gateway's authorizer context in a direct Lambda invocation; on Knative there is no "+
		"authorizer context to forge, a function believes the bearer token alone, and TestLoginAndOwnership and "+
		"TestProtectedRoutesRefuseBadTokens check that through the routes")
	victim, r := register(t, uniqueEmail(t))
	expect(t, r, http.StatusCreated)
	attackerEmail := uniqueEmail(t)
	_, r = register(t, attackerEmail)
	expect(t, r, http.StatusCreated)
	attackerToken, r := login(t, attackerEmail, "correct horse 1")
	expect(t, r, http.StatusOK)

	getVictim := func(token string, claimed principal.Principal) events.APIGatewayV2HTTPRequest {
		req := events.APIGatewayV2HTTPRequest{
			RouteKey: "GET /v1/users/{id}",
			RawPath:  "/v1/users/" + victim.ID,
			Headers:  map[string]string{},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RequestID:  "forged-1",
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/users/" + victim.ID, SourceIP: "127.0.0.1"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: claimed.AuthorizerContext()},
			},
			PathParameters: map[string]string{"id": victim.ID},
		}
		if token != "" {
			req.Headers["authorization"] = "Bearer " + token
		}
		return req
	}
	asVictim := principal.Principal{Subject: victim.ID, Kind: principal.KindUser, Issuer: naming.Issuer(prefix(), "users")}
	asService := principal.Principal{Subject: "orders", Kind: principal.KindService, Issuer: naming.Issuer(prefix(), "orders"), Scopes: []string{"users:read"}}

	for name, req := range map[string]events.APIGatewayV2HTTPRequest{
		"the victim's identity, no token":             getVictim("", asVictim),
		"a service's scopes, no token":                getVictim("", asService),
		"the victim's identity, the attacker's token": getVictim(attackerToken, asVictim),
	} {
		t.Run(name, func(t *testing.T) {
			resp := invokeDirect(t, "users-get", req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, resp.Body)
			}
		})
	}
	t.Run("control: the victim's own token and identity", func(t *testing.T) {
		victimToken, r := login(t, victim.Email, "correct horse 1")
		expect(t, r, http.StatusOK)
		if resp := invokeDirect(t, "users-get", getVictim(victimToken, asVictim)); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", resp.StatusCode, resp.Body)
		}
	})
}
