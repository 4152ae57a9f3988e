package keystore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// signerWorld is one issuer (users) with its secret and JWKS on fakes, a
// clock, and a SignerSource on that clock: a warm login instance.
type signerWorld struct {
	t     *testing.T
	sm    *awstest.Secrets
	ssm   *awstest.SSM
	jwks  JWKSStore
	clock *clocktest.Clock
	src   *SignerSource
}

func newSignerWorld(t *testing.T) *signerWorld {
	t.Helper()
	sm, ssmAPI, jwks := newFakes()
	if _, err := EnsureIssuer(context.Background(), sm, jwks, "shop", "users", policyOf("users")); err != nil {
		t.Fatal(err)
	}
	// EnsureIssuer dates the key by the real clock; the fake one starts there.
	w := &signerWorld{t: t, sm: sm, ssm: ssmAPI, jwks: jwks, clock: newClock(time.Now())}
	w.src = NewSignerSource(sm, "shop", "users")
	w.src.now = w.clock.Now
	return w
}

// kid is the kid of the signer the source hands out now.
func (w *signerWorld) kid() string {
	w.t.Helper()
	s, err := w.src.Signer(context.Background())
	if err != nil {
		w.t.Fatalf("Signer: %v", err)
	}
	return s.KeyID()
}

// rotate rotates users' key as of the fake clock and returns the new kid.
func (w *signerWorld) rotate() string {
	w.t.Helper()
	kid, err := rotate(context.Background(), w.sm, w.jwks, "shop", "users", policyOf("users"), w.clock.Now(), ActivationDelay)
	if err != nil {
		w.t.Fatal(err)
	}
	return kid
}

// verifies reports whether a user token signed now by the source's signer
// verifies against the published JWKS.
func (w *signerWorld) verifies() error {
	w.t.Helper()
	ctx := context.Background()
	s, err := w.src.Signer(ctx)
	if err != nil {
		return err
	}
	tok, _, err := s.Issue(servicetoken.KindUser, "user-1", []string{naming.Audience("shop")}, nil, time.Minute)
	if err != nil {
		w.t.Fatal(err)
	}
	// The Signer dates its tokens by the real clock: so does the verifier.
	keys := ssmkeys.NewKeySource(w.ssm, naming.JWKSParameter("shop"), time.Minute)
	_, err = servicetoken.NewVerifier(keys, naming.Audience("shop"), servicetoken.WithUserIssuer("shop-users")).Verify(ctx, tok)
	return err
}

// The story of issue 6: rotate, wait, retire. A warm signer that loaded
// its key before the rotation must be signing with the new key by the
// time Retire lets the old one go, or every login after that would hand
// out tokens nobody accepts.
func TestSignerSourceFollowsRotationToRetirement(t *testing.T) {
	w := newSignerWorld(t)
	kid1 := w.kid()

	w.clock.Advance(time.Minute)
	kid2 := w.rotate()
	activation := w.clock.Now().Add(ActivationDelay)
	if got := w.kid(); got != kid1 {
		t.Fatalf("right after Rotate: signing with %s, want %s until the new key activates", got, kid1)
	}

	// Retire refuses until the old key can be in use by no one.
	retirable := activation.Add(SignerReloadInterval + servicetoken.MaxUserTTL)
	w.clock.Set(activation.Add(time.Second))
	if err := retire(context.Background(), w.sm, w.jwks, "shop", "users", kid1, w.clock.Now()); !errors.Is(err, servicetoken.ErrKeyInUse) {
		t.Fatalf("Retire right after activation: %v, want ErrKeyInUse", err)
	}
	w.clock.Set(retirable)
	if err := retire(context.Background(), w.sm, w.jwks, "shop", "users", kid1, w.clock.Now()); err != nil {
		t.Fatalf("Retire once retirable: %v", err)
	}
	if got := w.kid(); got != kid2 {
		t.Fatalf("after the retirement the warm source signs with %s, want %s", got, kid2)
	}
	if err := w.verifies(); err != nil {
		t.Fatalf("a token of the warm source after the retirement: %v", err)
	}
}

// A source that knows of a newer key moves to it the moment it activates,
// and otherwise reads the secret no more than once per SignerReloadInterval.
func TestSignerSourceReloadsAtActivationAndPeriodically(t *testing.T) {
	w := newSignerWorld(t)
	kid1 := w.kid()
	kid2 := w.rotate() // known at the next read
	reads := w.sm.Gets()

	for range 50 {
		if got := w.kid(); got != kid1 {
			t.Fatalf("before the reload interval: %s, want %s", got, kid1)
		}
	}
	if n := w.sm.Gets(); n != reads {
		t.Fatalf("%d secret reads inside the interval, want none", n-reads)
	}
	w.clock.Advance(SignerReloadInterval) // periodic reload: sees kid2, not yet active
	if got := w.kid(); got != kid1 || w.sm.Gets() != reads+1 {
		t.Fatalf("at the reload interval: %s after %d reads; want %s after one", got, w.sm.Gets()-reads, kid1)
	}
	w.clock.Advance(ActivationDelay - SignerReloadInterval - time.Second)
	if got := w.kid(); got != kid1 || w.sm.Gets() != reads+1 {
		t.Fatalf("a second before activation: %s after %d reads", got, w.sm.Gets()-reads)
	}
	w.clock.Advance(time.Second)
	if got := w.kid(); got != kid2 || w.sm.Gets() != reads+2 {
		t.Fatalf("at activation: %s after %d reads; want %s after a reload", got, w.sm.Gets()-reads, kid2)
	}
}

// When the secret cannot be read, the current signer keeps serving while
// its key is surely still accepted, and reads are paced meanwhile; after
// that the source fails rather than sign with a key that may be retired.
func TestSignerSourceKeepsServingThroughAFailedReload(t *testing.T) {
	w := newSignerWorld(t)
	kid1 := w.kid()
	loaded := w.clock.Now()
	boom := errors.New("secrets manager unavailable")
	w.sm.FailGets(boom)

	w.clock.Advance(SignerReloadInterval)
	if got := w.kid(); got != kid1 {
		t.Fatalf("failed reload: %s, want the current %s", got, kid1)
	}
	reads := w.sm.Gets()
	for range 20 {
		w.kid()
	}
	if n := w.sm.Gets(); n != reads {
		t.Fatalf("%d more secret reads right after a failed one, want none", n-reads)
	}
	w.clock.Advance(time.Second)
	w.kid()
	if n := w.sm.Gets(); n != reads+1 {
		t.Fatalf("%d more secret reads a second after a failed one, want 1", n-reads)
	}

	// A rotation right after the last good read activates no earlier than
	// loaded+ActivationDelay, and Retire waits SignerReloadInterval past
	// that plus the longest token: until then the old key is safe to use.
	w.clock.Set(loaded.Add(ActivationDelay + SignerReloadInterval - time.Second))
	if got := w.kid(); got != kid1 {
		t.Fatalf("just before the key may be retired: %s, want %s", got, kid1)
	}
	w.clock.Advance(time.Minute) // past any backoff
	if _, err := w.src.Signer(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("once the key may have been retired: %v, want %v", err, boom)
	}

	w.sm.FailGets(nil)
	w.clock.Advance(time.Minute)
	if got := w.kid(); got != kid1 {
		t.Fatalf("after Secrets Manager recovered: %s", got)
	}
}

// A source that knew of the newer key when its reload failed serves the
// old key until the newer one's activation plus SignerReloadInterval, then
// fails.
func TestSignerSourceFailedReloadAtActivation(t *testing.T) {
	w := newSignerWorld(t)
	w.rotate()
	activation := w.clock.Now().Add(ActivationDelay)
	kid1 := w.kid() // loaded after the rotation: knows the activation
	w.sm.FailGets(errors.New("throttled"))

	w.clock.Set(activation)
	if got := w.kid(); got != kid1 {
		t.Fatalf("failed reload at activation: %s, want %s", got, kid1)
	}
	w.clock.Set(activation.Add(SignerReloadInterval - time.Second))
	if got := w.kid(); got != kid1 {
		t.Fatalf("just inside the reload interval: %s, want %s", got, kid1)
	}
	w.clock.Set(activation.Add(SignerReloadInterval))
	if _, err := w.src.Signer(context.Background()); err == nil {
		t.Fatal("signing with the old key past activation+SignerReloadInterval, when Retire may remove it")
	}
}

// Concurrent callers at reload time make one read, and all get a signer.
func TestSignerSourceConcurrentCallersShareOneRead(t *testing.T) {
	w := newSignerWorld(t)
	w.kid()
	w.clock.Advance(SignerReloadInterval)
	reads := w.sm.Gets()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := w.src.Signer(context.Background()); err != nil {
				t.Errorf("Signer: %v", err)
			}
		})
	}
	wg.Wait()
	if n := w.sm.Gets() - reads; n != 1 {
		t.Fatalf("%d secret reads for 50 concurrent callers, want 1", n)
	}
}

// With no key yet, the error is the one LoadSigner gives, and a stream of
// calls does not become a stream of reads.
func TestSignerSourceWithoutKeys(t *testing.T) {
	sm := awstest.NewSecrets()
	c := newClock(time.Now())
	src := NewSignerSource(sm, "shop", "nobody")
	src.now = c.Now
	for range 10 {
		if _, err := src.Signer(context.Background()); !errors.Is(err, servicetoken.ErrNoSigningKeys) {
			t.Fatalf("Signer = %v, want ErrNoSigningKeys", err)
		}
	}
	if n := sm.Gets(); n != 1 {
		t.Fatalf("%d reads for 10 calls at once, want 1", n)
	}
	c.Advance(time.Second)
	if _, err := src.Signer(context.Background()); !errors.Is(err, servicetoken.ErrNoSigningKeys) || sm.Gets() != 2 {
		t.Fatalf("a second later: %v after %d reads; want a retry", err, sm.Gets())
	}
}

// Retire says when a key it refuses becomes retirable: its successor's
// activation, plus the longest a SignerSource may keep signing with it,
// plus the longest a token it signed lives.
func TestRetireSaysWhenTheKeyBecomesRetirable(t *testing.T) {
	w := newSignerWorld(t)
	kid1 := w.kid()
	w.rotate()
	retirable := w.clock.Now().Add(ActivationDelay + SignerReloadInterval + servicetoken.MaxUserTTL)
	for _, at := range []time.Time{
		w.clock.Now().Add(ActivationDelay),
		retirable.Add(-time.Second),
	} {
		err := retire(context.Background(), w.sm, w.jwks, "shop", "users", kid1, at)
		if !errors.Is(err, servicetoken.ErrKeyInUse) || !strings.Contains(err.Error(), retirable.UTC().Format(time.RFC3339)) {
			t.Fatalf("Retire at %s: %v; want ErrKeyInUse saying %s", at, err, retirable.UTC().Format(time.RFC3339))
		}
	}
	if _, err := LoadSigner(context.Background(), w.sm, "shop", "users"); err != nil {
		t.Fatalf("a refused Retire changed the secret: %v", err)
	}
	if err := retire(context.Background(), w.sm, w.jwks, "shop", "users", kid1, retirable); err != nil {
		t.Fatalf("Retire at %s: %v", retirable, err)
	}
}
