package idempotency_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// request is a POST /things with key, sent from addr, as p when p is set.
func request(key, body, addr string, p *principal.Principal) *http.Request {
	req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
	req.Header.Set(httpapi.HeaderIdempotencyKey, key)
	req.RemoteAddr = addr
	if p != nil {
		req = req.WithContext(principal.WithContext(req.Context(), *p))
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Two callers who pick the same key each get their own answer; each
// caller's retry replays its own.
func TestKeysAreScopedByCaller(t *testing.T) {
	c := &counter{}
	h := newMiddleware(t, idempotency.Options{}).Wrap(c)
	alice := &principal.Principal{Subject: "alice", Kind: principal.KindUser, Issuer: "shop-users"}
	bob := &principal.Principal{Subject: "bob", Kind: principal.KindUser, Issuer: "shop-users"}
	// Same subject, another issuer: another caller.
	otherAlice := &principal.Principal{Subject: "alice", Kind: principal.KindService, Issuer: "operator"}
	callers := []struct {
		name string
		addr string
		p    *principal.Principal
	}{
		{"alice", "198.51.100.1:1000", alice},
		{"bob, from alice's address", "198.51.100.1:1001", bob},
		{"alice of another issuer", "198.51.100.1:1002", otherAlice},
		{"anonymous, from alice's address", "198.51.100.1:1003", nil},
		{"anonymous, from elsewhere", "203.0.113.7:1000", nil},
	}
	first := map[string]string{}
	for i, cl := range callers {
		rec := serve(h, request("shared-key", `{}`, cl.addr, cl.p))
		if rec.Code != http.StatusCreated || rec.Header().Get(idempotency.HeaderReplayed) != "" {
			t.Fatalf("%s, first use of the key: %d replayed=%q %s; want its own 201", cl.name, rec.Code, rec.Header().Get(idempotency.HeaderReplayed), rec.Body)
		}
		if want := fmt.Sprintf(`"run":%d`, i+1); !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s got %s, want its own run (%s)", cl.name, rec.Body, want)
		}
		first[cl.name] = rec.Body.String()
	}
	for _, cl := range callers {
		rec := serve(h, request("shared-key", `{}`, cl.addr, cl.p))
		if rec.Header().Get(idempotency.HeaderReplayed) != "true" || rec.Body.String() != first[cl.name] {
			t.Fatalf("%s again: %s (replayed=%q), want its own first answer %s", cl.name, rec.Body, rec.Header().Get(idempotency.HeaderReplayed), first[cl.name])
		}
	}
	if n := c.runs.Load(); n != int64(len(callers)) {
		t.Fatalf("runs = %d, want %d: one per caller", n, len(callers))
	}
}

// registrar answers like POST /v1/users: the account, never the password.
type registrar struct{ runs atomic.Int64 }

func (g *registrar) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n := g.runs.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":"user-%d"}`, n)
}

// The stored record holds nothing derived from a declared secret: the
// fingerprint leaves it out, so two requests that differ only in the secret
// are the same request (the documented trade-off), and no attribute of any
// item holds the secret, its SHA-256, or that of a body containing it.
func TestSecretFieldsAreNeverFingerprinted(t *testing.T) {
	db, table := storetest.Table(t, "users")
	g := &registrar{}
	h := idempotency.New(db, table, idempotency.Options{Scope: "users-register", SecretFields: []string{"password"}}).Wrap(g)
	const addr = "198.51.100.9:4000"
	bodies := []string{
		`{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}`,
		`{"email":"ada@example.com","password":"another secret 123","name":"Ada"}`,
		// encoding/json matches field names case-insensitively: so does the filter.
		`{"name":"Ada","PassWord":"a third secret 456","email":"ada@example.com"}`,
	}
	first := serve(h, request("reg-1", bodies[0], addr, nil))
	if first.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", first.Code, first.Body)
	}
	for _, body := range bodies[1:] {
		rec := serve(h, request("reg-1", body, addr, nil))
		if rec.Header().Get(idempotency.HeaderReplayed) != "true" || rec.Body.String() != first.Body.String() {
			t.Fatalf("same key, only the secret changed: %d %s (replayed=%q); want the first answer replayed", rec.Code, rec.Body, rec.Header().Get(idempotency.HeaderReplayed))
		}
	}
	// The fields that are not secret still make the request.
	if rec := serve(h, request("reg-1", `{"email":"bob@example.com","password":"correct horse battery","name":"Ada"}`, addr, nil)); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("same key, another email: %d, want 422", rec.Code)
	}
	if g.runs.Load() != 1 {
		t.Fatalf("runs = %d, want 1", g.runs.Load())
	}

	forbidden := []string{"correct horse battery", "another secret 123", "a third secret 456"}
	for _, s := range append(append([]string{}, forbidden...), bodies...) {
		sum := sha256.Sum256([]byte(s))
		forbidden = append(forbidden, hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]), string(sum[:]))
	}
	// The old fingerprint: method, path and query length-prefixed, then the body.
	for _, body := range bodies {
		sum := sha256.Sum256([]byte("4:POST7:/things0:" + body))
		forbidden = append(forbidden, hex.EncodeToString(sum[:]))
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("%d items in the table, want the one record", len(out.Items))
	}
	for name, v := range out.Items[0] {
		for _, s := range stringsOf(v) {
			for _, f := range forbidden {
				if strings.Contains(s, f) {
					t.Errorf("attribute %s holds %q, derived from a secret", name, f)
				}
			}
		}
	}
}

// A body the operation cannot decode is not guarded when it may hold a
// secret (it could not be filtered): the handler answers it, and nothing is
// stored.
func TestUndecodableBodyWithSecretsIsNotStored(t *testing.T) {
	db, table := storetest.Table(t, "users")
	g := &registrar{}
	h := idempotency.New(db, table, idempotency.Options{Scope: "users-register", SecretFields: []string{"password"}}).Wrap(g)
	for _, body := range []string{`{"password":"cut short`, `["password","x"]`, ``} {
		serve(h, request("bad", body, "198.51.100.9:4000", nil))
	}
	if g.runs.Load() != 3 {
		t.Fatalf("runs = %d, want 3: each undecodable request reaches the handler", g.runs.Load())
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(out.Items) != 0 {
		t.Fatalf("%d items stored (%v), want none", len(out.Items), err)
	}
}

// stringsOf lists every string an attribute value holds, binary included.
func stringsOf(v types.AttributeValue) []string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return []string{v.Value}
	case *types.AttributeValueMemberB:
		return []string{string(v.Value)}
	case *types.AttributeValueMemberN:
		return []string{v.Value}
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberM:
		var out []string
		for k, e := range v.Value {
			out = append(append(out, k), stringsOf(e)...)
		}
		return out
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}
