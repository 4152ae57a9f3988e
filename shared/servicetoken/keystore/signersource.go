package keystore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shop-serverless/shop/shared/servicetoken"
)

// SignerReloadInterval is the longest a SignerSource signs without reading
// the secret again. Besides the reload at a known key's activation, this
// is how a warm instance learns of a rotation made after its last read, so
// Retire counts it in when it decides a key can be in use by no one.
const SignerReloadInterval = 5 * time.Minute

// After a failed read, no new read for reloadBackoffMin, doubling up to
// reloadBackoffMax: a Secrets Manager outage must not turn every login
// into a GetSecretValue call.
const (
	reloadBackoffMin = time.Second
	reloadBackoffMax = 30 * time.Second
)

// SignerSource hands out the Signer of an issuer's current key, for the life
// of a process: what a function that signs (login, a service calling others
// through servicetoken.TokenSource) keeps instead of one Signer forever. A
// Signer kept forever goes on signing with its key after a rotation, and once
// that key is retired every token it makes is refused.
//
//	signers := keystore.NewSignerSource(secretsmanager.NewFromConfig(cfg), prefix, service)
//	signer, err := signers.Signer(ctx)
//
// The secret is read on first use (not at cold start), again when a newer
// key that the last read saw becomes active, and at least every
// SignerReloadInterval. When a read fails, the current Signer keeps serving
// while its key is surely still accepted: until a key rotated in after the
// last read could have been active for SignerReloadInterval, the earliest
// Retire lets the key go. Reads after a failure are paced (1 s doubling to
// 30 s). It is safe for concurrent use; concurrent callers share one read.
type SignerSource struct {
	sm              SecretsAPI
	prefix, service string
	now             func() time.Time // tests pin the clock

	// mu is held across the read, so callers that find the signer due for
	// a reload wait for one read instead of each making one.
	mu         sync.Mutex
	signer     *servicetoken.Signer
	loaded     time.Time // last successful read
	next       time.Time // activation of the next key the last read saw; zero: none
	validUntil time.Time // the signer may be used until then even if reads fail
	backoff    time.Duration
	retryAt    time.Time // after a failed read: no read before then
	lastErr    error
}

// NewSignerSource returns a SignerSource for service's issuer. It needs
// only secretsmanager:GetSecretValue on naming.SigningSecret(prefix, service).
func NewSignerSource(sm SecretsAPI, prefix, service string) *SignerSource {
	return &SignerSource{sm: sm, prefix: prefix, service: service, now: time.Now}
}

// Signer returns the Signer to sign with now.
func (s *SignerSource) Signer(ctx context.Context) (*servicetoken.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.signer != nil && !s.due(now) {
		return s.signer, nil
	}
	usable := s.signer != nil && now.Before(s.validUntil)
	if now.Before(s.retryAt) {
		if usable {
			return s.signer, nil
		}
		return nil, fmt.Errorf("%w (next read of the signing key at %s)", s.lastErr, s.retryAt.UTC().Format(time.RFC3339))
	}
	signer, next, err := readSigner(ctx, s.sm, s.prefix, s.service, now)
	if err != nil {
		// A caller that gave up (its context ended) says nothing about
		// Secrets Manager: the next caller may read at once.
		if ctx.Err() == nil {
			s.backoff = min(max(2*s.backoff, reloadBackoffMin), reloadBackoffMax)
			s.retryAt, s.lastErr = now.Add(s.backoff), err
		}
		if usable {
			return s.signer, nil
		}
		return nil, err
	}
	s.signer, s.loaded, s.next = signer, now, next
	// A key rotated in after this read activates ActivationDelay after its
	// rotation at the earliest; a key this read saw, at its activation.
	// Retire lets the current key go no earlier than that activation plus
	// SignerReloadInterval plus the longest token, so signing with it up to
	// that activation plus SignerReloadInterval is safe whatever happens.
	horizon := now.Add(ActivationDelay)
	if !next.IsZero() && next.Before(horizon) {
		horizon = next
	}
	s.validUntil = horizon.Add(SignerReloadInterval)
	s.backoff, s.retryAt, s.lastErr = 0, time.Time{}, nil
	return signer, nil
}

// due reports that the signer must be read again: the reload interval has
// passed, or the next key's activation. (validUntil ends later than the
// reload interval, so it never makes a reload due by itself; it only says
// how long a signer may serve while reads fail.)
func (s *SignerSource) due(now time.Time) bool {
	return !now.Before(s.loaded.Add(SignerReloadInterval)) ||
		(!s.next.IsZero() && !now.Before(s.next))
}
