package servicetoken

import (
	"crypto/ed25519"
	"slices"
	"strings"
	"sync"
)

// DefaultVerifiedCacheSize is how many verified tokens a verifier made by
// ssmkeys.NewVerifier remembers: far more callers than one warm instance
// serves between two cold starts, and at most 8 KiB (MaxTokenBytes) each.
const DefaultVerifiedCacheSize = 512

// WithVerifiedCache makes the Verifier remember up to n tokens whose
// signature it has checked, so a caller's next request with the same token
// skips the decoding and the Ed25519 check (about 50 µs, nearly all of a
// warm verification: BenchmarkEdge/edge-verify, BenchmarkVerifyCache).
// Only the signature is remembered, never the verdict: every hit still
// finds the token's kid in the key source's current set with the same
// public key (a key retired or replaced since is not trusted from memory)
// and checks every claim again (issuer and policy, audience, lifetime at
// this moment, required scopes). n <= 0 disables it.
func WithVerifiedCache(n int) Option {
	return func(v *Verifier) {
		if n > 0 {
			v.verified = &verifiedCache{max: n, entries: make(map[string]verifiedToken, min(n, 64))}
		}
	}
}

// verifiedCache maps a token, exactly as sent, to what its verification
// found. A compact JWS with strict base64url has one spelling, so equal
// strings are the same header, claims and signature.
type verifiedCache struct {
	max     int
	mu      sync.Mutex
	entries map[string]verifiedToken
}

type verifiedToken struct {
	kid    string
	key    ed25519.PublicKey // the key the signature was checked with
	claims Claims
}

func (c *verifiedCache) get(token string) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[token]
	return t, ok
}

func (c *verifiedCache) put(token string, t verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Full: start again rather than track recency. Bounded memory is
		// what matters; a cleared cache only costs a signature check per
		// caller.
		clear(c.entries)
	}
	t.claims = t.claims.clone()
	c.entries[strings.Clone(token)] = t // not a slice of the request's header
}

// clone copies c's slices, so that a caller changing its Claims cannot
// change what the cache holds, or the reverse.
func (c Claims) clone() Claims {
	c.Audience = slices.Clone(c.Audience)
	c.Scopes = slices.Clone(c.Scopes)
	return c
}
