package servicetoken

import (
	"crypto/ed25519"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestParseJWKS(t *testing.T) {
	orders := pub(testKey("orders"))
	x := seg([]byte(orders))
	entry := func(extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1","alg":"EdDSA","use":"sig","iss":"shop-orders"` + extra + `}`
	}
	const svcPolicy = `,"kinds":["service"],"sub":"orders","scopes":["users:read"]`
	tests := []struct {
		name       string
		doc        string
		wantErr    string // "" for success
		wantN      int
		wantPolicy Policy // of k1, when wantN is 1
	}{
		{"one key", `{"keys":[` + entry(svcPolicy) + `]}`, "", 1, Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"users:read"}}},
		{"no policy: read, verifies nothing", `{"keys":[` + entry("") + `]}`, "", 1, Policy{}},
		{"user policy", `{"keys":[` + entry(`,"kinds":["user"]`) + `]}`, "", 1, Policy{Kinds: []string{KindUser}}},
		{"both kinds", `{"keys":[` + entry(`,"kinds":["user","service"],"sub":"orders"`) + `]}`, "", 1, Policy{Kinds: []string{KindUser, KindService}, Subject: "orders"}},
		{"any scope", `{"keys":[` + entry(`,"kinds":["service"],"sub":"operator","scopes":["*"]`) + `]}`, "", 1, Policy{Kinds: []string{KindService}, Subject: "operator", AnyScope: true}},
		{"unknown kind", `{"keys":[` + entry(`,"kinds":["admin"]`) + `]}`, "kind", 0, Policy{}},
		{"kind twice", `{"keys":[` + entry(`,"kinds":["user","user"]`) + `]}`, "twice", 0, Policy{}},
		{"kinds not an array", `{"keys":[` + entry(`,"kinds":"service","sub":"orders"`) + `]}`, "keys[0]", 0, Policy{}},
		{"subject without kinds", `{"keys":[` + entry(`,"sub":"orders"`) + `]}`, "no kinds", 0, Policy{}},
		{"service kind without subject", `{"keys":[` + entry(`,"kinds":["service"],"scopes":["users:read"]`) + `]}`, "subject", 0, Policy{}},
		{"scopes for a user-only issuer", `{"keys":[` + entry(`,"kinds":["user"],"scopes":["users:read"]`) + `]}`, "does not mint", 0, Policy{}},
		{"wildcard among scopes", `{"keys":[` + entry(`,"kinds":["service"],"sub":"operator","scopes":["*","users:read"]`) + `]}`, "scope", 0, Policy{}},
		{"scope with a space", `{"keys":[` + entry(`,"kinds":["service"],"sub":"orders","scopes":["users:read users:write"]`) + `]}`, "scope", 0, Policy{}},
		{"empty set", `{"keys":[]}`, "", 0, Policy{}},
		{"foreign key types skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"x"},` + entry("") + `]}`, "", 1, Policy{}},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"e","use":"enc","iss":"a"}]}`, "", 0, Policy{}},
		{"unknown members kept quiet", `{"keys":[` + entry(`,"note":"hello"`) + `]}`, "", 1, Policy{}},
		{"not JSON", `{`, "jwks", 0, Policy{}},
		{"no keys array", `{"kid":"k"}`, `no "keys"`, 0, Policy{}},
		{"keys null", `{"keys":null}`, `no "keys"`, 0, Policy{}},
		{"no iss", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1"}]}`, "no issuer", 0, Policy{}},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","iss":"a"}]}`, "no kid", 0, Policy{}},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k1","iss":"a"}]}`, "x is not", 0, Policy{}},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `=","kid":"k1","iss":"a"}]}`, "x is not", 0, Policy{}},
		{"private part published", `{"keys":[` + entry(`,"d":"`+x+`"`) + `]}`, "private", 0, Policy{}},
		{"duplicate kid", `{"keys":[` + entry("") + `,` + entry("") + `]}`, "twice", 0, Policy{}},
		{"kid a number", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":1,"iss":"a"}]}`, "keys[0]", 0, Policy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseJWKS([]byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(set) != tt.wantN {
				t.Fatalf("%d keys, want %d", len(set), tt.wantN)
			}
			if tt.wantN == 1 {
				k := set["k1"]
				if k.Issuer != "shop-orders" || !k.Key.Equal(orders) {
					t.Fatalf("key %+v", k)
				}
				if !reflect.DeepEqual(k.Policy, tt.wantPolicy) {
					t.Fatalf("policy %+v, want %+v", k.Policy, tt.wantPolicy)
				}
			}
		})
	}
}

// What we publish is a standard JWK Set: jwx reads it, the key is the
// Ed25519 key, and the issuer binding survives as a private member.
func TestPublishedJWKSIsStandard(t *testing.T) {
	key := pub(testKey("orders"))
	doc := &JWKSDocument{}
	if _, err := doc.Upsert(ordersIssuer, ordersKID, key, ordersPolicy); err != nil {
		t.Fatal(err)
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(out)
	if err != nil {
		t.Fatalf("jwx cannot read our JWKS %s: %v", out, err)
	}
	k, ok := set.LookupKeyID(ordersKID)
	if !ok {
		t.Fatalf("kid %s not found in %s", ordersKID, out)
	}
	var raw ed25519.PublicKey
	if err := jwk.Export(k, &raw); err != nil || !raw.Equal(key) {
		t.Fatalf("exported %x, %v; want %x", raw, err, key)
	}
	if alg, ok := k.Algorithm(); !ok || alg != jwa.EdDSA() {
		t.Fatalf("alg %v", alg)
	}
	var iss, sub string
	if err := k.Get("iss", &iss); err != nil || iss != ordersIssuer {
		t.Fatalf("iss %q, %v", iss, err)
	}
	if err := k.Get("sub", &sub); err != nil || sub != "orders" {
		t.Fatalf("sub %q, %v", sub, err)
	}
	var kinds, scopes []any
	if err := k.Get("kinds", &kinds); err != nil || !reflect.DeepEqual(kinds, []any{KindService}) {
		t.Fatalf("kinds %v, %v", kinds, err)
	}
	if err := k.Get("scopes", &scopes); err != nil || !reflect.DeepEqual(scopes, []any{"users:read", "inventory:write"}) {
		t.Fatalf("scopes %v, %v", scopes, err)
	}
	// And what we read back is the policy we published.
	ours, err := ParseJWKS(out)
	if err != nil || !reflect.DeepEqual(ours[ordersKID].Policy, ordersPolicy) {
		t.Fatalf("policy read back %+v, %v; want %+v", ours[ordersKID].Policy, err, ordersPolicy)
	}
}

func TestJWKSDocEdits(t *testing.T) {
	a, b := pub(testKey("a")), pub(testKey("b"))
	foreign := `{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-1","x5t":"keep-me"}`
	doc, err := ParseJWKSDocument([]byte(`{"keys":[` + foreign + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert := func(issuer, kid string, key ed25519.PublicKey, p Policy, wantChange bool) {
		t.Helper()
		changed, err := doc.Upsert(issuer, kid, key, p)
		if err != nil || changed != wantChange {
			t.Fatalf("upsert %s: changed=%v err=%v, want changed=%v", kid, changed, err, wantChange)
		}
	}
	narrower := Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"users:read"}}
	mustUpsert("iss-a", "a1", a, ordersPolicy, true)
	mustUpsert("iss-a", "a1", a, ordersPolicy, false) // idempotent
	mustUpsert("iss-b", "b1", b, usersPolicy, true)
	mustUpsert("iss-a", "a1", b, ordersPolicy, true) // the secret wins over a stale entry
	mustUpsert("iss-a", "a1", b, narrower, true)     // a changed policy is republished
	mustUpsert("iss-a", "a1", b, narrower, false)    // and then stays
	if _, err := doc.Upsert("iss-b", "a1", b, usersPolicy); err == nil {
		t.Fatal("upsert took over another issuer's kid")
	}
	for name, p := range map[string]Policy{
		"no policy":      {},
		"invalid policy": {Kinds: []string{KindUser}, Scopes: []string{"users:read"}},
	} {
		if _, err := doc.Upsert("iss-c", "c1", a, p); err == nil {
			t.Fatalf("upsert published a key with %s", name)
		}
	}
	if removed := doc.RemoveIssuerKeys("iss-a", func(string) bool { return true }); len(removed) != 1 || removed[0] != "a1" {
		t.Fatalf("removed %v, want [a1]", removed)
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 2 || string(got.Keys[0]) != foreign {
		t.Fatalf("after edits %s; want the foreign key untouched and b1", out)
	}
}
