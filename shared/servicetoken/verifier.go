package servicetoken

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Verifier checks tokens presented to one audience. It is safe for
// concurrent use.
type Verifier struct {
	src        KeySource
	audience   string
	leeway     time.Duration
	now        func() time.Time
	userIssuer string
	verified   *verifiedCache // nil: every token is checked in full (WithVerifiedCache)
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithLeeway sets the clock skew tolerated on exp, nbf and iat, clamped to
// 0..MaxLeeway. The default is DefaultLeeway.
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) { v.leeway = min(max(d, 0), MaxLeeway) }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) { v.now = now }
}

// WithUserIssuer accepts user tokens, and only from iss: the users
// service, naming.Issuer(prefix, "users"). Without it a Verifier refuses
// every user token (ErrIssuer): any service can sign service tokens as
// itself, but only login may speak for a user, and a verifier that forgot
// to say who login is must fail closed.
func WithUserIssuer(iss string) Option {
	return func(v *Verifier) { v.userIssuer = iss }
}

// NewVerifier returns a Verifier of tokens whose aud contains audience
// (naming.Audience(prefix) for the API), with keys from src.
func NewVerifier(src KeySource, audience string, opts ...Option) *Verifier {
	v := &Verifier{src: src, audience: audience, leeway: DefaultLeeway, now: time.Now}
	for _, opt := range opts {
		opt(v)
	}
	return v
}

// jwsBase64 is the only encoding a JWS segment may use: unpadded base64url
// with zero trailing bits. The lenient decoder would accept several
// spellings of one signature, so one token would have many strings, each a
// different key for caches and replay checks.
var jwsBase64 = base64.RawURLEncoding.Strict()

// Verify checks token and returns its claims. The token must be a compact
// JWS signed with EdDSA by a key of the key set, issued by the issuer that
// key is bound to, one that issuer may mint (its kind, and for a service
// token its subject and scopes, within the key's Policy; a user token with
// no scopes), for the Verifier's audience, within its lifetime (give or
// take the leeway), and grant every scope in requiredScopes.
//
// Every rejection wraps ErrInvalid and one reason (ErrMalformed,
// ErrAlgorithm, ...). Any other error means the keys could not be loaded.
func (v *Verifier) Verify(ctx context.Context, token string, requiredScopes ...string) (Claims, error) {
	// Cheap structural checks first: garbage must cost neither a key
	// lookup (which can reach SSM) nor a signature check.
	if len(token) > MaxTokenBytes {
		return Claims{}, reject(ErrTooLarge, "%d bytes, at most %d", len(token), MaxTokenBytes)
	}
	if v.verified != nil {
		if t, ok := v.verified.get(token); ok {
			if c, done, err := v.reverify(ctx, t, requiredScopes); done {
				return c, err
			}
		}
	}
	// Go's base64 decoders, even strict ones, skip CR and LF: without this
	// check a line break anywhere would make another string of the same
	// token (the decoded parts, and so the claims, would be the same).
	if i := strings.IndexFunc(token, notJWSByte); i >= 0 {
		return Claims{}, reject(ErrMalformed, "byte %d is not base64url or '.'", i)
	}
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return Claims{}, reject(ErrMalformed, "%d segments, want 3", len(segs))
	}
	rawHeader, err := jwsBase64.DecodeString(segs[0])
	if err != nil {
		return Claims{}, reject(ErrMalformed, "header: %v", err)
	}
	payload, err := jwsBase64.DecodeString(segs[1])
	if err != nil || segs[1] == "" {
		return Claims{}, reject(ErrMalformed, "payload is not base64url")
	}
	sig, err := jwsBase64.DecodeString(segs[2])
	if err != nil {
		return Claims{}, reject(ErrMalformed, "signature: %v", err)
	}
	kid, err := checkHeader(rawHeader)
	if err != nil {
		return Claims{}, err
	}

	key, err := v.key(ctx, kid)
	if err != nil {
		return Claims{}, err
	}
	if len(sig) != ed25519.SignatureSize {
		return Claims{}, reject(ErrSignature, "signature is %d bytes", len(sig))
	}
	// The algorithm is ours, not the header's: even a header that passed
	// checkHeader never picks how the signature is checked. RFC 8037: the
	// JWS signing input, header.payload as sent, signed with Ed25519.
	if !ed25519.Verify(key.Key, []byte(token[:len(segs[0])+1+len(segs[1])]), sig) {
		return Claims{}, reject(ErrSignature, "kid %s: the signature does not verify", kid)
	}

	c, err := decodeClaims(payload)
	if err != nil {
		return Claims{}, err
	}
	if err := v.checkClaims(c, key, requiredScopes); err != nil {
		return Claims{}, fmt.Errorf("%w (kid %s, sub %q, jti %s)", err, kid, clip(c.Subject), clip(c.ID))
	}
	if v.verified != nil {
		v.verified.put(token, verifiedToken{kid: kid, key: key.Key, claims: c})
	}
	return c, nil
}

// reverify is Verify for a token whose signature was checked before with
// t.key: the kid must still be in the current set, and the claims must
// pass every check now. When the kid names another key than the one that
// checked the signature, nothing is trusted from memory: done is false and
// the token is verified in full.
func (v *Verifier) reverify(ctx context.Context, t verifiedToken, requiredScopes []string) (_ Claims, done bool, _ error) {
	key, err := v.key(ctx, t.kid)
	if err != nil {
		return Claims{}, true, err
	}
	if !key.Key.Equal(t.key) {
		return Claims{}, false, nil
	}
	c := t.claims.clone()
	if err := v.checkClaims(c, key, requiredScopes); err != nil {
		return Claims{}, true, fmt.Errorf("%w (kid %s, sub %q, jti %s)", err, t.kid, clip(c.Subject), clip(c.ID))
	}
	return c, true, nil
}

// notJWSByte reports a character that has no place in a compact JWS.
func notJWSByte(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// checkHeader accepts exactly the header Issue writes: alg EdDSA, a kid,
// typ JWT if any, and no extensions. It returns the kid.
func checkHeader(raw []byte) (string, error) {
	// A map, not a struct: encoding/json matches struct fields case-
	// insensitively, and "ALG" is not "alg".
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", reject(ErrMalformed, "header: %v", err)
	}
	str := func(name string) (string, bool, error) {
		v, ok := h[name]
		if !ok {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, reject(ErrMalformed, "header %s is not a string", name)
		}
		return s, true, nil
	}
	alg, _, err := str("alg")
	if err != nil {
		return "", err
	}
	if alg != algEdDSA {
		return "", reject(ErrAlgorithm, "alg %q, only EdDSA is accepted", clip(alg))
	}
	// RFC 7515 §4.1.11: a recipient must refuse critical extensions it does
	// not understand, and we understand none (b64 is RFC 7797's).
	for _, ext := range []string{"crit", "b64"} {
		if _, ok := h[ext]; ok {
			return "", reject(ErrMalformed, "header %s: no JWS extensions are accepted", ext)
		}
	}
	if typ, ok, err := str("typ"); err != nil {
		return "", err
	} else if ok && !strings.EqualFold(typ, "JWT") {
		return "", reject(ErrMalformed, "typ %q, want JWT", clip(typ))
	}
	kid, _, err := str("kid")
	if err != nil {
		return "", reject(ErrUnknownKey, "kid is not a string")
	}
	if kid == "" {
		return "", reject(ErrUnknownKey, "no kid")
	}
	return kid, nil
}

// key finds kid, asking a Refresher once when it is unknown: a kid just
// published by a rotation must not wait for the cache to expire.
func (v *Verifier) key(ctx context.Context, kid string) (PublicKey, error) {
	keys, err := v.src.PublicKeys(ctx)
	if err != nil {
		return PublicKey{}, fmt.Errorf("servicetoken: public keys: %w", err)
	}
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	if r, ok := v.src.(Refresher); ok {
		if keys, err = r.Refresh(ctx); err != nil {
			return PublicKey{}, fmt.Errorf("servicetoken: refresh public keys: %w", err)
		}
		if k, ok := keys[kid]; ok {
			return k, nil
		}
	}
	return PublicKey{}, reject(ErrUnknownKey, "kid %q", clip(kid))
}

func (v *Verifier) checkClaims(c Claims, key PublicKey, requiredScopes []string) error {
	if c.Issuer != key.Issuer {
		return reject(ErrIssuer, "iss %q, but the key belongs to %q", clip(c.Issuer), key.Issuer)
	}
	if c.Kind == KindUser && v.userIssuer == "" {
		return reject(ErrIssuer, "user token from %q, but this verifier accepts none (no WithUserIssuer)", c.Issuer)
	}
	if c.Kind == KindUser && c.Issuer != v.userIssuer {
		return reject(ErrIssuer, "user token from %q, user tokens come only from %q", c.Issuer, v.userIssuer)
	}
	if err := key.Policy.permits(c); err != nil {
		return err
	}
	if v.audience == "" || !slices.Contains(c.Audience, v.audience) {
		return reject(ErrAudience, "aud %q, want %q", c.Audience, v.audience)
	}
	now := v.now()
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return reject(ErrExpired, "expired at %s", c.Expiry.Format(time.RFC3339))
	}
	// Skew cuts both ways: the signer's clock may run ahead of ours.
	if horizon := now.Add(v.leeway); c.NotBefore.After(horizon) || c.IssuedAt.After(horizon) {
		return reject(ErrNotYetValid, "nbf %s, iat %s", c.NotBefore.Format(time.RFC3339), c.IssuedAt.Format(time.RFC3339))
	}
	// A lifetime beyond the kind's maximum means a broken or compromised
	// signer; refuse it even while it is otherwise current.
	if life := c.Expiry.Sub(c.IssuedAt); life <= 0 || life > maxTTL(c.Kind) {
		return reject(ErrLifetime, "%s token lives %v, at most %v", c.Kind, life, maxTTL(c.Kind))
	}
	for _, s := range requiredScopes {
		if !c.HasScope(s) {
			return reject(ErrScope, "scope %q not granted", s)
		}
	}
	return nil
}
