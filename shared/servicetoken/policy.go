package servicetoken

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Policy is what one issuer may mint. The "iss" binding of a key alone
// would let any issuer's key (login's, held by an internet-facing function)
// sign a service token as any service with any scope; the policy narrows
// each key to its own issuer's business. It is published with every key of
// the issuer in the JWKS (keystore.EnsureIssuer, Rotate) and checked by
// Verify. A key published without one verifies nothing.
//
// The deployment model (shared/manifest) derives each service's policy from
// its service.yaml; the operator's is written there in code.
type Policy struct {
	// Kinds the issuer may mint: KindUser (login, for any user id) and/or
	// KindService.
	Kinds []string
	// Subject is the only subject of the issuer's service tokens: a service
	// speaks for itself alone. Empty when Kinds lacks KindService.
	Subject string
	// Scopes the issuer's service tokens may carry; AnyScope lifts the
	// limit (the operator). User tokens carry no scopes at all.
	Scopes   []string
	AnyScope bool
}

// anyScope is AnyScope on the wire: the only member of "scopes". No scope
// can be spelled "*" (see validScope), so it never collides with one.
const anyScope = "*"

// IsZero reports a Policy that allows nothing: a key with no policy.
func (p Policy) IsZero() bool {
	return len(p.Kinds) == 0 && p.Subject == "" && len(p.Scopes) == 0 && !p.AnyScope
}

// Validate reports a policy that cannot be published: no kinds, an unknown
// or repeated kind, a service policy without its subject, or anything
// about service tokens in a policy that mints none.
func (p Policy) Validate() error {
	if len(p.Kinds) == 0 {
		return errors.New("policy: no kinds")
	}
	for i, k := range p.Kinds {
		if maxTTL(k) == 0 {
			return fmt.Errorf("policy: kind %q is neither %s nor %s", clip(k), KindUser, KindService)
		}
		if slices.Contains(p.Kinds[:i], k) {
			return fmt.Errorf("policy: kind %s appears twice", k)
		}
	}
	if !slices.Contains(p.Kinds, KindService) {
		if p.Subject != "" || len(p.Scopes) > 0 || p.AnyScope {
			return fmt.Errorf("policy: subject and scopes apply to %s tokens, which this policy does not mint", KindService)
		}
		return nil
	}
	if p.Subject == "" || strings.ContainsFunc(p.Subject, unicode.IsSpace) {
		return fmt.Errorf("policy: %s tokens need a subject without spaces, got %q", KindService, clip(p.Subject))
	}
	if p.AnyScope && len(p.Scopes) > 0 {
		return errors.New("policy: any scope and a list of scopes together")
	}
	for i, s := range p.Scopes {
		if !validScope(s) {
			return fmt.Errorf("policy: scope %q is empty, %q, or contains a space", clip(s), anyScope)
		}
		if slices.Contains(p.Scopes[:i], s) {
			return fmt.Errorf("policy: scope %s appears twice", s)
		}
	}
	return nil
}

// validScope is a scope as it travels in the space-separated "scope"
// claim; "*" is reserved for AnyScope.
func validScope(s string) bool {
	return s != "" && s != anyScope && !strings.ContainsFunc(s, unicode.IsSpace)
}

// permits checks the claims of a token signed by a key with policy p.
func (p Policy) permits(c Claims) error {
	// Whatever the key: only login speaks for a user, and what a user may
	// do follows from who they are, never from scopes in their token.
	if c.Kind == KindUser && len(c.Scopes) > 0 {
		return reject(ErrPolicy, "a user token carries scopes %q; user tokens carry none", clipAll(c.Scopes))
	}
	if p.IsZero() {
		return reject(ErrPolicy, "the key of %q has no policy, so it verifies nothing", c.Issuer)
	}
	if !slices.Contains(p.Kinds, c.Kind) {
		return reject(ErrPolicy, "%q may not mint %s tokens", c.Issuer, c.Kind)
	}
	if c.Kind != KindService {
		return nil
	}
	if c.Subject != p.Subject {
		return reject(ErrPolicy, "%q mints %s tokens as %q only, not %q", c.Issuer, KindService, p.Subject, clip(c.Subject))
	}
	if p.AnyScope {
		return nil
	}
	for _, s := range c.Scopes {
		if !slices.Contains(p.Scopes, s) {
			return reject(ErrPolicy, "%q may not grant scope %q", c.Issuer, clip(s))
		}
	}
	return nil
}

// clipAll clips each of a few attacker-controlled strings, and their number.
func clipAll(ss []string) []string {
	const maxItems = 8
	out := make([]string, 0, min(len(ss), maxItems))
	for _, s := range ss[:min(len(ss), maxItems)] {
		out = append(out, clip(s))
	}
	return out
}
