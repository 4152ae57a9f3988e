package ssmkeys

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

const (
	// minRefreshInterval rate-limits trips to SSM: a stream of tokens with
	// made-up kids costs at most one GetParameter per interval per instance
	// (SSM's default throughput is 40 requests a second per account).
	minRefreshInterval = 10 * time.Second
	// staleGrace is how long past its TTL a cached key set is still served
	// while SSM fails (throttling, an outage, a corrupted parameter): an
	// outage of SSM should not become an outage of every API.
	staleGrace = 10 * time.Minute
	// With nothing to serve, a failed read is retried after minBackoff,
	// doubling up to maxBackoff: during an SSM outage a stream of requests
	// must not become a stream of GetParameter calls (which would also
	// eat the account's shared SSM throughput and prolong throttling).
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// SSMKeySource reads the JWK Set published in an SSM parameter and caches
// it. It is safe for concurrent use.
type SSMKeySource struct {
	api       ParameterReader
	parameter string
	ttl       time.Duration
	now       func() time.Time

	// mu is held across the GetParameter call, so concurrent requests that
	// find the cache expired wait for one fetch instead of each making one.
	mu        sync.Mutex
	keys      servicetoken.KeySet
	fetched   time.Time // last successful read
	attempted time.Time // last read, successful or not
	// After a failed read with nothing usable cached: no read before
	// retryAt; lastErr answers meanwhile.
	backoff time.Duration
	retryAt time.Time
	lastErr error
}

var _ servicetoken.Refresher = (*SSMKeySource)(nil)

// NewSSMKeySource reads the JWKS from parameter (naming.JWKSParameter)
// with cfg (shared/awsconfig.Load) and caches it for ttl
// (servicetoken.DefaultKeyCacheTTL when ttl <= 0). It needs
// ssm:GetParameter on the parameter.
func NewSSMKeySource(cfg aws.Config, parameter string, ttl time.Duration) *SSMKeySource {
	return NewKeySource(NewReader(cfg), parameter, ttl)
}

// NewVerifier is the verifier of the tokens presented to a deployment's API
// (naming.Audience(prefix)): keys from its JWKS parameter, read on first use
// and cached for DefaultKeyCacheTTL, user tokens only from the users
// issuer, and the signatures of the last DefaultVerifiedCacheSize tokens
// remembered (servicetoken.WithVerifiedCache: a caller's next request
// skips the Ed25519 check, never the key and claim checks). The authorizer
// and every function with a protected route use it.
func NewVerifier(cfg aws.Config, prefix string) *servicetoken.Verifier {
	keys := NewSSMKeySource(cfg, naming.JWKSParameter(prefix), 0)
	return servicetoken.NewVerifier(keys, naming.Audience(prefix),
		servicetoken.WithUserIssuer(naming.Issuer(prefix, naming.UserTokenService)),
		servicetoken.WithVerifiedCache(servicetoken.DefaultVerifiedCacheSize))
}

// NewKeySource is NewSSMKeySource reading through api.
func NewKeySource(api ParameterReader, parameter string, ttl time.Duration) *SSMKeySource {
	if ttl <= 0 {
		ttl = servicetoken.DefaultKeyCacheTTL
	}
	return &SSMKeySource{api: api, parameter: parameter, ttl: ttl, now: time.Now}
}

// PublicKeys returns the cached key set, reading the parameter when the
// cache is older than the TTL.
func (s *SSMKeySource) PublicKeys(ctx context.Context) (servicetoken.KeySet, error) {
	return s.get(ctx, false)
}

// Refresh re-reads the parameter, unless it was read in the last
// minRefreshInterval: then it returns the cached set.
func (s *SSMKeySource) Refresh(ctx context.Context) (servicetoken.KeySet, error) {
	return s.get(ctx, true)
}

func (s *SSMKeySource) get(ctx context.Context, force bool) (servicetoken.KeySet, error) {
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
	if !usable && now.Before(s.retryAt) {
		return nil, fmt.Errorf("%w (next read of %s at %s)", s.lastErr, s.parameter, s.retryAt.Format(time.RFC3339))
	}
	s.attempted = now
	set, err := s.fetch(ctx)
	if err != nil {
		if usable {
			return s.keys, nil
		}
		// A caller that gave up (its context ended) says nothing about SSM.
		if ctx.Err() == nil {
			s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
			s.retryAt, s.lastErr = now.Add(s.backoff), err
		}
		return nil, err
	}
	s.keys, s.fetched = set, now
	s.backoff, s.retryAt, s.lastErr = 0, time.Time{}, nil
	return set, nil
}

func (s *SSMKeySource) fetch(ctx context.Context) (servicetoken.KeySet, error) {
	value, err := s.api.ReadParameter(ctx, s.parameter)
	if err != nil {
		return nil, fmt.Errorf("servicetoken: read JWKS parameter %s: %w", s.parameter, err)
	}
	set, err := servicetoken.ParseJWKS([]byte(value))
	if err != nil {
		return nil, fmt.Errorf("servicetoken: JWKS parameter %s: %w", s.parameter, err)
	}
	return set, nil
}
