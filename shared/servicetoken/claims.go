package servicetoken

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/principal"
)

// Token kinds.
const (
	KindUser    = "user"    // minted by login for a user id; accepted only from the user issuer
	KindService = "service" // minted by a service (or the operator) for calls between services
)

// Limits. Short lifetimes are what make these tokens safe to carry without
// revocation: a leaked service token is useless within minutes.
const (
	MaxServiceTTL = 5 * time.Minute
	MaxUserTTL    = time.Hour
	// MaxLeeway bounds the clock skew a verifier tolerates; Lambda hosts
	// are NTP-synchronised, so more would only stretch stolen tokens.
	MaxLeeway = 30 * time.Second
	// DefaultLeeway is the skew a Verifier tolerates unless told otherwise.
	DefaultLeeway = MaxLeeway
	// MaxTokenBytes is far above any token Issue makes (about 500 bytes)
	// and keeps hostile input from costing more than a length check.
	MaxTokenBytes = 8 << 10
)

// Claims are what a verified token asserts.
type Claims struct {
	Issuer   string   // iss: the issuer its key is bound to
	Subject  string   // sub: a user id, or the calling service
	Kind     string   // KindUser or KindService ("kind" claim)
	ID       string   // jti: unique per token, for logs and replay checks
	Audience []string // aud
	Scopes   []string // "scope" claim, space separated on the wire

	IssuedAt, NotBefore, Expiry time.Time
}

// HasScope reports whether the token grants scope s.
func (c Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// maxTTL is the longest lifetime a kind may have; 0 for an unknown kind.
func maxTTL(kind string) time.Duration {
	switch kind {
	case KindService:
		return MaxServiceTTL
	case KindUser:
		return MaxUserTTL
	}
	return 0
}

// wireClaims is the JWT payload as signed (RFC 7519 names, plus kind and
// the RFC 8693 scope): Issue writes it, decodeClaims reads it. Decoding is
// strict about types (a string exp is malformed, not zero) and accepts both
// RFC 7519 forms of aud; unknown claims are ignored as the RFC asks.
type wireClaims struct {
	Iss   string      `json:"iss"`
	Sub   string      `json:"sub"`
	Aud   audience    `json:"aud"`
	Iat   numericDate `json:"iat"`
	Nbf   numericDate `json:"nbf"`
	Exp   numericDate `json:"exp"`
	Jti   string      `json:"jti"`
	Kind  string      `json:"kind"`
	Scope string      `json:"scope,omitempty"`
}

// decodeClaims parses and checks the presence of every claim Verify needs.
func decodeClaims(payload []byte) (Claims, error) {
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, reject(ErrMalformed, "claims: %v", err)
	}
	var missing []string
	for name, absent := range map[string]bool{
		"iss": w.Iss == "", "sub": w.Sub == "", "jti": w.Jti == "", "kind": w.Kind == "",
		"aud": len(w.Aud) == 0, "exp": !w.Exp.set, "iat": !w.Iat.set,
	} {
		if absent {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Claims{}, reject(ErrMalformed, "claims: missing %s", strings.Join(missing, ", "))
	}
	if maxTTL(w.Kind) == 0 {
		return Claims{}, reject(ErrMalformed, "claims: kind %q is neither %s nor %s", clip(w.Kind), KindUser, KindService)
	}
	c := Claims{
		Issuer:   w.Iss,
		Subject:  w.Sub,
		Kind:     w.Kind,
		ID:       w.Jti,
		Audience: w.Aud,
		Scopes:   strings.Fields(w.Scope),
		IssuedAt: w.Iat.t,
		Expiry:   w.Exp.t,
	}
	// nbf is optional in RFC 7519; without it a token is valid from iat.
	c.NotBefore = c.IssuedAt
	if w.Nbf.set {
		c.NotBefore = w.Nbf.t
	}
	return c, nil
}

// audience is the aud claim: a single string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return fmt.Errorf("aud: %w", err)
		}
		*a = many
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return fmt.Errorf("aud: %w", err)
	}
	*a = audience{one}
	return nil
}

// numericDate is an RFC 7519 NumericDate: seconds since the epoch, possibly
// fractional. Values outside years 1970..9999 are refused rather than
// overflowing time arithmetic into something that happens to pass.
type numericDate struct {
	t   time.Time
	set bool
}

const maxNumericDate = 253402300799 // 9999-12-31T23:59:59Z

// dateOf is t as a NumericDate for Issue.
func dateOf(t time.Time) numericDate { return numericDate{t: t, set: true} }

// MarshalJSON writes whole seconds, the form Issue uses (its times are
// whole seconds already).
func (d numericDate) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, d.t.Unix(), 10), nil
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	// json.Number would also take "123" (a string) and null; neither is a
	// NumericDate.
	if b = bytes.TrimSpace(b); len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return fmt.Errorf("numeric date %s is not a number", clip(string(b)))
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("numeric date: %w", err)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return fmt.Errorf("numeric date %s out of range", clip(n.String()))
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	d.set = true
	return nil
}

// Principal is who a verified token speaks for.
func (c Claims) Principal() principal.Principal {
	return principal.Principal{Subject: c.Subject, Kind: c.Kind, Issuer: c.Issuer, Scopes: c.Scopes}
}
