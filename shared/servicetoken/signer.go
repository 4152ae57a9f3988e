package servicetoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Signer issues tokens as one issuer with one key. It is safe for
// concurrent use.
type Signer struct {
	issuer string
	kid    string
	key    ed25519.PrivateKey
	now    func() time.Time // tests pin the clock
}

// NewSigner returns a Signer for issuer whose tokens carry kid. The key set
// verifiers read must bind kid to issuer, or every token is refused.
func NewSigner(issuer, kid string, key ed25519.PrivateKey) *Signer {
	return &Signer{issuer: issuer, kid: kid, key: key, now: time.Now}
}

// Issuer is the issuer the Signer mints tokens as.
func (s *Signer) Issuer() string { return s.issuer }

// KeyID is the kid of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// Issue signs a token of kind for subject, valid from now for ttl (at most
// MaxServiceTTL or MaxUserTTL, and at least a second: the wire has whole
// seconds). It returns the token and the claims it asserts.
func (s *Signer) Issue(kind, subject string, audience []string, scopes []string, ttl time.Duration) (string, Claims, error) {
	if err := s.checkRequest(kind, subject, audience, scopes, ttl); err != nil {
		return "", Claims{}, fmt.Errorf("servicetoken: issue %s token as %s: %w", kind, s.issuer, err)
	}
	// Whole seconds, so the Claims returned are exactly what Verify reads back.
	iat := s.now().UTC().Truncate(time.Second)
	c := Claims{
		Issuer:    s.issuer,
		Subject:   subject,
		Kind:      kind,
		ID:        rand.Text(), // 128 random bits: ids never collide in practice
		Audience:  append([]string(nil), audience...),
		Scopes:    append([]string(nil), scopes...),
		IssuedAt:  iat,
		NotBefore: iat,
		Expiry:    iat.Add(ttl).Truncate(time.Second),
	}
	header, err := json.Marshal(jwsHeader{Alg: algEdDSA, Kid: s.kid, Typ: "JWT"})
	if err != nil {
		return "", Claims{}, fmt.Errorf("servicetoken: header of %s: %w", s.kid, err)
	}
	payload, err := json.Marshal(wireClaims{
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Kind: c.Kind, Jti: c.ID,
		Iat: dateOf(c.IssuedAt), Nbf: dateOf(c.NotBefore), Exp: dateOf(c.Expiry),
		Scope: strings.Join(scopes, " "),
	})
	if err != nil {
		return "", Claims{}, fmt.Errorf("servicetoken: claims as %s: %w", s.issuer, err)
	}
	// RFC 7515 compact serialisation, RFC 8037 EdDSA: the signature is
	// Ed25519 over the ASCII of header.payload. Written out rather than
	// built with a JOSE library: the one algorithm and the fixed header make
	// it a dozen lines, and keeping such a library out of every function
	// that signs or verifies saves its package init at each cold start
	// (about 0.2 ms measured); verifier_test checks both directions against
	// lestrrat-go/jwx.
	input := jwsBase64.EncodeToString(header) + "." + jwsBase64.EncodeToString(payload)
	return input + "." + jwsBase64.EncodeToString(ed25519.Sign(s.key, []byte(input))), c, nil
}

// algEdDSA is the only JWS algorithm tokens use (RFC 8037).
const algEdDSA = "EdDSA"

// jwsHeader is the protected header Issue writes; checkHeader accepts
// nothing else.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

func (s *Signer) checkRequest(kind, subject string, audience, scopes []string, ttl time.Duration) error {
	limit := maxTTL(kind)
	switch {
	case limit == 0:
		return fmt.Errorf("kind %q is neither %s nor %s", kind, KindUser, KindService)
	case len(s.key) != ed25519.PrivateKeySize:
		return fmt.Errorf("signing key %s is not an Ed25519 private key", s.kid)
	case s.issuer == "" || s.kid == "":
		return errors.New("signer has no issuer or kid")
	case subject == "":
		return errors.New("empty subject")
	case len(audience) == 0:
		return errors.New("no audience")
	case kind == KindUser && len(scopes) > 0:
		// Verify refuses them: what a user may do follows from who they
		// are, checked by each function, never from scopes in their token.
		return fmt.Errorf("a %s token carries no scopes, got %q", KindUser, scopes)
	case ttl < time.Second:
		return fmt.Errorf("ttl %v is under a second", ttl)
	case ttl > limit:
		return fmt.Errorf("ttl %v exceeds the %v a %s token may live", ttl, limit, kind)
	}
	for _, a := range audience {
		if a == "" {
			return errors.New("empty audience")
		}
	}
	for _, sc := range scopes {
		// The wire form is one space-separated string (RFC 8693 "scope").
		if !validScope(sc) {
			return fmt.Errorf("scope %q is empty, %q, or contains a space", sc, anyScope)
		}
	}
	return nil
}
