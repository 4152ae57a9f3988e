package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// fakeVerifier accepts one token and rejects every other as invalid, and
// records what it was asked to verify.
type fakeVerifier struct {
	good   string
	claims servicetoken.Claims
	asked  []string
}

func (v *fakeVerifier) Verify(_ context.Context, token string, _ ...string) (servicetoken.Claims, error) {
	v.asked = append(v.asked, token)
	if token == v.good {
		return v.claims, nil
	}
	return servicetoken.Claims{}, fmt.Errorf("%w: not the one token", servicetoken.ErrInvalid)
}

// FuzzAuthorizerEvent feeds the authorizer arbitrary API Gateway REQUEST
// authorizer events (payload 2.0, as JSON) plus an arbitrary Authorization
// header. An invalid token is never an invocation error (that would be a
// 500); a deny carries no context; the verifier only ever sees what
// FromBearer extracts from the request; and an allow is exactly the one
// token the verifier accepts, with a context that reads back as its
// principal.
func FuzzAuthorizerEvent(f *testing.F) {
	const good = "good.token.sig"
	f.Add(`{"version":"2.0","type":"REQUEST","routeKey":"GET /orders","identitySource":["Bearer good.token.sig"],"requestContext":{"requestId":"r1"}}`, "")
	f.Add(`{"headers":{"authorization":"bearer   good.token.sig  "}}`, "")
	f.Add(`{"headers":{"Authorization":"Basic Zm9vOmJhcg=="}}`, "Bearer good.token.sig")
	f.Add(`{"identitySource":[]}`, "Bearer")
	f.Add(`{"identitySource":["", "Bearer good.token.sig"]}`, "Bearer \x00")
	f.Add(`{}`, "BEARER other.token.sig")
	f.Fuzz(func(t *testing.T, event, authorization string) {
		var req events.APIGatewayV2CustomAuthorizerV2Request
		if json.Unmarshal([]byte(event), &req) != nil {
			return
		}
		if authorization != "" {
			if req.Headers == nil {
				req.Headers = map[string]string{}
			}
			req.Headers["authorization"] = authorization
		}
		claims := servicetoken.Claims{Issuer: "shop-users", Subject: "user-1", Kind: servicetoken.KindUser, ID: "j1", Scopes: []string{"orders:read"}}
		v := &fakeVerifier{good: good, claims: claims}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		resp, err := Authorizer(v, logger)(context.Background(), req)
		if err != nil {
			t.Fatalf("invocation error (API Gateway answers 500): %v", err)
		}
		if len(v.asked) > 1 {
			t.Fatalf("verifier asked %d times", len(v.asked))
		}
		var presented []string // every value a bearer token may come from
		for k, h := range req.Headers {
			if strings.EqualFold(k, "authorization") {
				presented = append(presented, h)
			}
		}
		presented = append(presented, req.IdentitySource...)
		for _, token := range v.asked {
			found := false
			for _, h := range presented {
				if tok, ok := servicetoken.FromBearer(h); ok && tok == token {
					found = true
				}
			}
			if !found {
				t.Fatalf("verifier asked about %q, which no Bearer credential of the request holds", token)
			}
		}
		if !resp.IsAuthorized {
			if len(resp.Context) != 0 {
				t.Fatalf("deny with a context %v", resp.Context)
			}
			return
		}
		if len(v.asked) != 1 || v.asked[0] != good {
			t.Fatalf("allowed, but the verifier accepted nothing (asked %q)", v.asked)
		}
		p, ok := principal.FromAuthorizerContext(resp.Context)
		if !ok || !reflect.DeepEqual(p, claims.Principal()) {
			t.Fatalf("context %v reads back as %+v (ok %v), want %+v", resp.Context, p, ok, claims.Principal())
		}
	})
}
