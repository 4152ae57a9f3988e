package servicetoken

import (
	"context"
	"crypto/ed25519"
	"time"
)

// PublicKey is a verification key, the only issuer it may sign for, and
// what that issuer may mint (a zero Policy: nothing).
type PublicKey struct {
	Issuer string
	Key    ed25519.PublicKey
	Policy Policy
}

// KeySet maps a kid to its key. A KeySet handed out by a KeySource is
// shared: read it, never modify it.
type KeySet map[string]PublicKey

// KeySource supplies the keys a Verifier trusts.
type KeySource interface {
	PublicKeys(ctx context.Context) (KeySet, error)
}

// Refresher is a KeySource that can re-read its keys before its cache
// expires. The Verifier calls Refresh when a token names a kid it does not
// know, so a key published by a rotation is usable at once; Refresh decides
// whether to really go back to the source.
type Refresher interface {
	KeySource
	Refresh(ctx context.Context) (KeySet, error)
}

// StaticKeySource serves a fixed set of keys (tests and tools).
func StaticKeySource(set KeySet) KeySource { return staticKeys(set) }

type staticKeys KeySet

func (s staticKeys) PublicKeys(context.Context) (KeySet, error) { return KeySet(s), nil }

// DefaultKeyCacheTTL is how long a verifier's key source (ssmkeys) trusts
// its copy of the JWKS when given no TTL. It is also how long a retired key
// may keep verifying on a warm instance, and what keystore.ActivationDelay
// must exceed.
const DefaultKeyCacheTTL = 5 * time.Minute
