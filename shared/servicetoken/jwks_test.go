package servicetoken

import (
	"crypto/ed25519"
	"encoding/json"
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
	tests := []struct {
		name    string
		doc     string
		wantErr string // "" for success
		wantN   int
	}{
		{"one key", `{"keys":[` + entry("") + `]}`, "", 1},
		{"empty set", `{"keys":[]}`, "", 0},
		{"foreign key types skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"x"},` + entry("") + `]}`, "", 1},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"e","use":"enc","iss":"a"}]}`, "", 0},
		{"unknown members kept quiet", `{"keys":[` + entry(`,"note":"hello"`) + `]}`, "", 1},
		{"not JSON", `{`, "jwks", 0},
		{"no keys array", `{"kid":"k"}`, `no "keys"`, 0},
		{"keys null", `{"keys":null}`, `no "keys"`, 0},
		{"no iss", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1"}]}`, "no issuer", 0},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","iss":"a"}]}`, "no kid", 0},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k1","iss":"a"}]}`, "x is not", 0},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `=","kid":"k1","iss":"a"}]}`, "x is not", 0},
		{"private part published", `{"keys":[` + entry(`,"d":"`+x+`"`) + `]}`, "private", 0},
		{"duplicate kid", `{"keys":[` + entry("") + `,` + entry("") + `]}`, "twice", 0},
		{"kid a number", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":1,"iss":"a"}]}`, "keys[0]", 0},
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
				if k := set["k1"]; k.Issuer != "shop-orders" || !k.Key.Equal(orders) {
					t.Fatalf("key %+v", k)
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
	if _, err := doc.Upsert(ordersIssuer, ordersKID, key); err != nil {
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
	var iss string
	if err := k.Get("iss", &iss); err != nil || iss != ordersIssuer {
		t.Fatalf("iss %q, %v", iss, err)
	}
}

func TestJWKSDocEdits(t *testing.T) {
	a, b := pub(testKey("a")), pub(testKey("b"))
	foreign := `{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-1","x5t":"keep-me"}`
	doc, err := ParseJWKSDocument([]byte(`{"keys":[` + foreign + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert := func(issuer, kid string, key ed25519.PublicKey, wantChange bool) {
		t.Helper()
		changed, err := doc.Upsert(issuer, kid, key)
		if err != nil || changed != wantChange {
			t.Fatalf("upsert %s: changed=%v err=%v, want changed=%v", kid, changed, err, wantChange)
		}
	}
	mustUpsert("iss-a", "a1", a, true)
	mustUpsert("iss-a", "a1", a, false) // idempotent
	mustUpsert("iss-b", "b1", b, true)
	mustUpsert("iss-a", "a1", b, true) // the secret wins over a stale entry
	if _, err := doc.Upsert("iss-b", "a1", b); err == nil {
		t.Fatal("upsert took over another issuer's kid")
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
