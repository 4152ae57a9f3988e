package keystore

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/servicetoken"
)

var seedMember = regexp.MustCompile(`"seed"\s*:\s*"([^"\\]*)"`)

// FuzzSigningSecret feeds the signer's loader (readSigner, behind
// LoadSigner and SignerSource) arbitrary secret strings at an arbitrary
// time. A refusal names the secret and never quotes a seed; a signer it
// returns is the issuer's, signs with the seed of the listed key whose
// activation is the latest not after now, and the next activation it
// reports is after now.
func FuzzSigningSecret(f *testing.F) {
	seed := func(b byte) string { s := make([]byte, 32); s[0] = b; return base64.StdEncoding.EncodeToString(s) }
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add(`{"active":"k1","keys":[{"kid":"k1","seed":"`+seed(1)+`","created":"2026-03-01T11:00:00Z"}]}`, t0.Unix())
	f.Add(`{"active":"k2","keys":[{"kid":"k1","seed":"`+seed(1)+`","created":"2026-03-01T11:00:00Z"},`+
		`{"kid":"k2","seed":"`+seed(2)+`","created":"2026-03-01T11:59:00Z","activeFrom":"2026-03-01T12:10:00Z"}]}`, t0.Unix())
	f.Add(`{"active":"k","keys":[{"kid":"k","seed":"SECRETSEED`, t0.Unix())
	f.Add(`{"active":"k","keys":[{"kid":"k","seed":"`+base64.StdEncoding.EncodeToString(make([]byte, 31))+`"}]}`, t0.Unix())
	f.Add(`{"active":"k2","keys":[]}`, int64(0))
	f.Add(`{"active":"k","keys":[{"kid":"k","seed":"`+seed(3)+`","created":"9999-12-31T23:59:59Z"}]}`, t0.Unix())
	f.Add(`null`, int64(-1))
	f.Fuzz(func(t *testing.T, body string, nowUnix int64) {
		now := time.Unix(nowUnix%(1<<40), 0).UTC()
		sm, _, _ := newFakes()
		const secret = "shop/signing/users"
		sm.SetRaw(secret, &body)
		signer, next, err := readSigner(context.Background(), sm, "shop", "users", now)
		if err != nil {
			if !strings.Contains(err.Error(), secret) && !strings.Contains(err.Error(), "no key of") {
				t.Fatalf("refusal does not name the secret: %v", err)
			}
			for _, m := range seedMember.FindAllStringSubmatch(body, -1) {
				s := m[1]
				if len(s) < 8 || strings.Contains(secret, s) || strings.Count(body, s) > 1 {
					continue // too short to be a secret, or also a kid or other member
				}
				if strings.Contains(err.Error(), s) {
					t.Fatalf("refusal quotes seed %q: %v", s, err)
				}
			}
			return
		}
		var keys signingKeys
		if err := json.Unmarshal([]byte(body), &keys); err != nil {
			t.Fatalf("loaded a signer from what is not signing-keys JSON: %v", err)
		}
		i := keys.index(signer.KeyID())
		if i < 0 || signer.Issuer() != "shop-users" && signer.Issuer() != "users" {
			t.Fatalf("signer %s/%s is not of the secret", signer.Issuer(), signer.KeyID())
		}
		k := keys.Keys[i]
		if k.activeFrom().After(now) {
			t.Fatalf("signs with %s before its activation %s (now %s)", k.KID, k.activeFrom(), now)
		}
		for _, o := range keys.Keys {
			if a := o.activeFrom(); !a.After(now) && a.After(k.activeFrom()) {
				t.Fatalf("signs with %s although %s activated later, before now", k.KID, o.KID)
			}
		}
		if !next.IsZero() && !next.After(now) {
			t.Fatalf("next activation %s is not after now %s", next, now)
		}
		tok, _, err := signer.Issue(servicetoken.KindService, "users", []string{"aud"}, nil, time.Minute)
		if err != nil {
			return // the clock is outside what a token can carry
		}
		priv, err := k.private()
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if !ed25519.Verify(priv.Public().(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("the signer does not sign with %s's seed", k.KID)
		}
	})
}
