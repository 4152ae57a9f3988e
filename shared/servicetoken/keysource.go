package servicetoken

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// PublicKey is a verification key and the only issuer it may sign for.
type PublicKey struct {
	Issuer string
	Key    ed25519.PublicKey
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

// DefaultKeyCacheTTL is how long an SSMKeySource trusts its copy of the
// JWKS when given no TTL. It is also how long a retired key may keep
// verifying on a warm instance.
const DefaultKeyCacheTTL = 5 * time.Minute

const (
	// minRefreshInterval rate-limits trips to SSM: a stream of tokens with
	// made-up kids costs at most one GetParameter per interval per instance
	// (SSM's default throughput is 40 requests a second per account).
	minRefreshInterval = 10 * time.Second
	// staleGrace is how long past its TTL a cached key set is still served
	// while SSM fails (throttling, an outage, a corrupted parameter): an
	// outage of SSM should not become an outage of every API.
	staleGrace = 10 * time.Minute
)

// SSMKeySource reads the JWK Set published in an SSM parameter and caches
// it. It is safe for concurrent use.
type SSMKeySource struct {
	api       SSMAPI
	parameter string
	ttl       time.Duration
	now       func() time.Time

	// mu is held across the GetParameter call, so concurrent requests that
	// find the cache expired wait for one fetch instead of each making one.
	mu        sync.Mutex
	keys      KeySet
	fetched   time.Time // last successful read
	attempted time.Time // last read, successful or not
}

// NewSSMKeySource reads the JWKS from parameter (naming.JWKSParameter)
// and caches it for ttl (DefaultKeyCacheTTL when ttl <= 0).
func NewSSMKeySource(api SSMAPI, parameter string, ttl time.Duration) *SSMKeySource {
	if ttl <= 0 {
		ttl = DefaultKeyCacheTTL
	}
	return &SSMKeySource{api: api, parameter: parameter, ttl: ttl, now: time.Now}
}

// PublicKeys returns the cached key set, reading the parameter when the
// cache is older than the TTL.
func (s *SSMKeySource) PublicKeys(ctx context.Context) (KeySet, error) {
	return s.get(ctx, false)
}

// Refresh re-reads the parameter, unless it was read in the last
// minRefreshInterval: then it returns the cached set.
func (s *SSMKeySource) Refresh(ctx context.Context) (KeySet, error) {
	return s.get(ctx, true)
}

func (s *SSMKeySource) get(ctx context.Context, force bool) (KeySet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.keys != nil && now.Sub(s.fetched) < s.ttl && !force {
		return s.keys, nil
	}
	usable := s.keys != nil && now.Sub(s.fetched) < s.ttl+staleGrace
	if usable && now.Sub(s.attempted) < minRefreshInterval {
		return s.keys, nil
	}
	// With nothing cached every call tries: there is nothing else to serve,
	// and the SDK's own retries pace a failing SSM.
	s.attempted = now
	set, err := s.fetch(ctx)
	if err != nil {
		if usable {
			return s.keys, nil
		}
		return nil, err
	}
	s.keys, s.fetched = set, now
	return set, nil
}

func (s *SSMKeySource) fetch(ctx context.Context) (KeySet, error) {
	out, err := s.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.parameter)})
	if err != nil {
		return nil, fmt.Errorf("servicetoken: read JWKS parameter %s: %w", s.parameter, err)
	}
	if out.Parameter == nil {
		return nil, fmt.Errorf("servicetoken: read JWKS parameter %s: no value", s.parameter)
	}
	set, err := ParseJWKS([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil {
		return nil, fmt.Errorf("servicetoken: JWKS parameter %s: %w", s.parameter, err)
	}
	return set, nil
}
