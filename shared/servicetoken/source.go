package servicetoken

import (
	"context"
	"sync"
	"time"
)

// reuseMargin is how long before expiry a cached token is replaced, so a
// token never expires in flight (network time plus the verifier's clock).
const reuseMargin = 30 * time.Second

// TokenSource mints service tokens for outgoing calls and reuses each until
// shortly before it expires: one signature per few minutes instead of one per
// call. It satisfies shared/client's TokenSource.
//
//	signers := keystore.NewSignerSource(secrets, prefix, service)
//	ts := servicetoken.NewTokenSource(signers.Signer, service, naming.Audience(prefix), []string{"users:read"}, servicetoken.MaxServiceTTL)
type TokenSource struct {
	signer   func(context.Context) (*Signer, error)
	audience []string
	scopes   []string
	ttl      time.Duration
	subject  string
	now      func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewTokenSource returns a TokenSource for service tokens of subject (the
// calling service) with scopes. signer is asked for the signer of the moment
// each time a token is minted (so the key is loaded on first use, not at cold
// start) and must cache it itself: keystore.SignerSource does, and moves to
// a rotated key when it activates. The TokenSource keeps no signer, so a warm
// instance never goes on minting with a key that has been retired.
func NewTokenSource(signer func(context.Context) (*Signer, error), subject, audience string, scopes []string, ttl time.Duration) *TokenSource {
	return &TokenSource{signer: signer, subject: subject, audience: []string{audience}, scopes: scopes, ttl: min(ttl, MaxServiceTTL), now: time.Now}
}

// Token returns a valid token, minting a new one when the cached one is
// within reuseMargin of expiry.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Add(reuseMargin).Before(s.expires) {
		return s.token, nil
	}
	signer, err := s.signer(ctx)
	if err != nil {
		return "", err
	}
	tok, claims, err := signer.Issue(KindService, s.subject, s.audience, s.scopes, s.ttl)
	if err != nil {
		return "", err
	}
	s.token, s.expires = tok, claims.Expiry
	return tok, nil
}
