// Package keystore is the Secrets Manager side of shared/servicetoken: each
// issuer's signing keys live in the secret naming.SigningSecret(prefix,
// service). A function that signs keeps a SignerSource, which reads the
// secret on first use and follows rotations, and needs only
// secretsmanager:GetSecretValue on that one secret:
//
//	signers := keystore.NewSignerSource(secretsmanager.NewFromConfig(cfg), prefix, service)
//	signer, err := signers.Signer(ctx)
//
// EnsureIssuer, Rotate and Retire are the operator actions (infra/keytool,
// the local deployer) that maintain the secret and the published JWK Set
// together. They edit the JWK Set through a JWKSStore (jwksstore.New for
// the SSM parameter), so this package does not import the SSM client and a
// function that only signs does not initialise it at cold start.
package keystore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// SecretsAPI is the part of *secretsmanager.Client this package uses.
// LoadSigner calls only GetSecretValue.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
}

// JWKSStore holds the JWK Set that every issuer's public keys are
// published in, as a text document with versions (jwksstore.Store: the
// SSM parameter naming.JWKSParameter(prefix)). The lifecycle functions
// read it, edit it and write it back.
type JWKSStore interface {
	// Load returns the document and its version; found is false when there
	// is none yet (version is then 0).
	Load(ctx context.Context) (doc string, version int64, found bool, err error)
	// Save writes doc over the version Load returned. When it can tell
	// that another edit was written after readVersion and is now lost, it
	// returns an error wrapping servicetoken.ErrConcurrentEdit (having
	// written doc all the same).
	Save(ctx context.Context, doc string, readVersion int64) error
	// String names the store in error messages ("JWKS parameter /shop/jwks").
	String() string
}

// signingKeys is the secret naming.SigningSecret(prefix, service):
//
//	{"active":"<kid>","keys":[{"kid":"...","seed":"<base64 32-byte seed>","created":"RFC3339","activeFrom":"RFC3339"}]}
//
// Old keys stay until retired, so the secret always lists every key whose
// tokens may still be in flight. "active" names the newest key; it signs
// from its activeFrom on (see ActivationDelay), older keys until then.
type signingKeys struct {
	Active string       `json:"active"`
	Keys   []signingKey `json:"keys"`
}

type signingKey struct {
	KID        string    `json:"kid"`
	Seed       string    `json:"seed"` // base64 std of the Ed25519 seed
	Created    time.Time `json:"created"`
	ActiveFrom time.Time `json:"activeFrom,omitzero"` // zero: from creation
}

// ActivationDelay is how long a rotated key is published before anyone
// signs with it: longer than a verifier's key cache
// (servicetoken.DefaultKeyCacheTTL), so every warm verifier already knows
// the key when its first token arrives.
// Without it, a token signed right after a rotation could meet a verifier
// that refreshed its keys moments before, is rate-limited from refreshing
// again, and denies it (and API Gateway caches that deny for a minute).
const ActivationDelay = servicetoken.DefaultKeyCacheTTL + time.Minute

func (k signingKey) activeFrom() time.Time {
	if k.ActiveFrom.IsZero() {
		return k.Created
	}
	return k.ActiveFrom
}

// signing returns the key to sign with at now: the most recently activated
// key whose activation has come.
func (s *signingKeys) signing(now time.Time) (signingKey, bool) {
	var best signingKey
	found := false
	for _, k := range s.Keys {
		if k.activeFrom().After(now) {
			continue
		}
		if !found || k.activeFrom().After(best.activeFrom()) {
			best, found = k, true
		}
	}
	return best, found
}

// nextActivation is the earliest activation of a key after t; zero when no
// key activates after t.
func (s *signingKeys) nextActivation(t time.Time) time.Time {
	var next time.Time
	for _, k := range s.Keys {
		if a := k.activeFrom(); a.After(t) && (next.IsZero() || a.Before(next)) {
			next = a
		}
	}
	return next
}

// retirableAt is when the i-th key can be in use by no one: its successor
// (the key activated next after it) has been active for SignerReloadInterval,
// by which time every SignerSource has moved on, and the longest token the
// key could have signed until then has expired. replaced is false when no
// key activates after it.
func (s *signingKeys) retirableAt(i int) (at time.Time, replaced bool) {
	successor := s.nextActivation(s.Keys[i].activeFrom())
	if successor.IsZero() {
		return time.Time{}, false
	}
	return successor.Add(SignerReloadInterval + servicetoken.MaxUserTTL), true
}

func (k signingKey) private() (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(k.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("key %s: seed is not a base64 Ed25519 seed", k.KID)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func (s *signingKeys) index(kid string) int {
	return slices.IndexFunc(s.Keys, func(k signingKey) bool { return k.KID == kid })
}

func (s *signingKeys) validate() error {
	seen := map[string]bool{}
	for _, k := range s.Keys {
		if k.KID == "" || seen[k.KID] {
			return fmt.Errorf("kid %q is empty or appears twice", k.KID)
		}
		seen[k.KID] = true
		if _, err := k.private(); err != nil {
			return err
		}
	}
	if !seen[s.Active] {
		return fmt.Errorf("active key %q is not in keys", s.Active)
	}
	return nil
}

// publicKeys returns every key's public half by kid, in the secret's order.
func (s *signingKeys) publicKeys() ([]kidKey, error) {
	out := make([]kidKey, 0, len(s.Keys))
	for _, k := range s.Keys {
		priv, err := k.private()
		if err != nil {
			return nil, err
		}
		out = append(out, kidKey{kid: k.KID, key: priv.Public().(ed25519.PublicKey)})
	}
	return out, nil
}

type kidKey struct {
	kid string
	key ed25519.PublicKey
}

// newSigningKey makes a key whose kid is <issuer>-<UTC yyyymmddThhmmss>-<4 hex>,
// readable in logs and distinct from every kid in taken.
func newSigningKey(issuer string, now time.Time, taken func(kid string) bool) (signingKey, error) {
	for range 8 {
		var suffix [2]byte
		rand.Read(suffix[:]) // never fails (crypto/rand since Go 1.24)
		kid := issuer + "-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(suffix[:])
		if taken(kid) {
			continue
		}
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		return signingKey{KID: kid, Seed: base64.StdEncoding.EncodeToString(seed), Created: now.UTC().Truncate(time.Second)}, nil
	}
	// 16 bits of suffix per second: only a broken random source gets here.
	return signingKey{}, errors.New("no free kid after 8 tries")
}

// keyStore is one issuer's secret and the shared JWKS.
type keyStore struct {
	sm     SecretsAPI
	jwks   JWKSStore
	issuer string
	secret string
}

func newKeyStore(sm SecretsAPI, jwks JWKSStore, prefix, service string) *keyStore {
	return &keyStore{
		sm: sm, jwks: jwks,
		issuer: naming.Issuer(prefix, service),
		secret: naming.SigningSecret(prefix, service),
	}
}

// LoadSigner returns a Signer with the active key of service's issuer, for
// one use (a tool, a test). A process that signs for longer keeps a
// SignerSource instead, which moves to a rotated key when it activates. It
// needs only secretsmanager:GetSecretValue on that one secret.
func LoadSigner(ctx context.Context, sm SecretsAPI, prefix, service string) (*servicetoken.Signer, error) {
	return loadSigner(ctx, sm, prefix, service, time.Now())
}

func loadSigner(ctx context.Context, sm SecretsAPI, prefix, service string, now time.Time) (*servicetoken.Signer, error) {
	signer, _, err := readSigner(ctx, sm, prefix, service, now)
	return signer, err
}

// readSigner returns the Signer of the key that signs at now and the
// activation time of the next key to sign (zero when there is none).
func readSigner(ctx context.Context, sm SecretsAPI, prefix, service string, now time.Time) (*servicetoken.Signer, time.Time, error) {
	ks := newKeyStore(sm, nil, prefix, service)
	keys, found, err := ks.readSecret(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !found {
		return nil, time.Time{}, fmt.Errorf("%w: secret %s of issuer %s", servicetoken.ErrNoSigningKeys, ks.secret, ks.issuer)
	}
	key, ok := keys.signing(now)
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: no key of %s is active yet", servicetoken.ErrNoSigningKeys, ks.issuer)
	}
	priv, err := key.private()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("servicetoken: secret %s: %w", ks.secret, err)
	}
	return servicetoken.NewSigner(ks.issuer, key.KID, priv), keys.nextActivation(now), nil
}

// EnsureIssuer makes sure service's issuer has signing keys and that they
// are published in jwks (the store of naming.JWKSParameter(prefix)), each
// with policy: what the issuer may mint, as the deployment model says
// (manifest.Set.Issuers). Without a secret it makes a key, publishes its
// public half, then creates the secret (created is true). With one it
// reconciles the issuer's entries in the JWKS with the secret and policy:
// every key published with this policy, no other key of the issuer left.
// That repairs any half-done earlier run of EnsureIssuer, Rotate or Retire
// and applies a changed policy. Running it again changes nothing.
func EnsureIssuer(ctx context.Context, sm SecretsAPI, jwks JWKSStore, prefix, service string, policy servicetoken.Policy) (created bool, err error) {
	ks := newKeyStore(sm, jwks, prefix, service)
	if err := ks.checkPolicy(policy); err != nil {
		return false, err
	}
	keys, found, err := ks.readSecret(ctx)
	if err != nil {
		return false, err
	}
	if found {
		return false, ks.publish(ctx, keys, policy, true)
	}
	first, err := newSigningKey(ks.issuer, time.Now(), func(string) bool { return false })
	if err != nil {
		return false, fmt.Errorf("servicetoken: new key for %s: %w", ks.issuer, err)
	}
	keys = &signingKeys{Active: first.KID, Keys: []signingKey{first}}
	// Publish before the secret exists: a signer can only load the key once
	// the secret exists, and by then verifiers know it. A failure between
	// the two leaves an unused public key, which the next run removes: with
	// no secret, no other key of this issuer can be signing.
	if err := ks.publish(ctx, keys, policy, true); err != nil {
		return false, err
	}
	body, err := json.Marshal(keys)
	if err != nil {
		return false, fmt.Errorf("servicetoken: encode secret %s: %w", ks.secret, err)
	}
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(ks.secret),
		Description:  aws.String(SecretDescription(ks.issuer)),
		SecretString: aws.String(string(body)),
	})
	if err == nil {
		return true, nil
	}
	if !awserr.HasCode(err, "ResourceExistsException") {
		return false, fmt.Errorf("servicetoken: create secret %s: %w", ks.secret, err)
	}
	// The secret exists but had no value: created without one (Terraform
	// does that), or by a concurrent EnsureIssuer a moment ago, or by this
	// call's first attempt.
	existing, found, err := ks.readSecret(ctx)
	if err != nil {
		return false, err
	}
	if found {
		// Our own create, if the SDK retried it after losing the response.
		created = existing.Active == first.KID
		return created, ks.publish(ctx, existing, policy, true)
	}
	if err := ks.writeSecret(ctx, keys); err != nil {
		return false, err
	}
	return true, nil
}

// Rotate adds a new key to service's issuer; it is published at once, with
// policy as every key of the issuer is, and signs from ActivationDelay on.
// Old keys stay in the secret and in the JWKS, so tokens they signed keep
// verifying until Retire. A SignerSource moves to the new key at its
// activation (within SignerReloadInterval if it read the secret before the
// rotation); Retire refuses the old key until no one can use it any more.
func Rotate(ctx context.Context, sm SecretsAPI, jwks JWKSStore, prefix, service string, policy servicetoken.Policy) (newKID string, err error) {
	return rotate(ctx, sm, jwks, prefix, service, policy, time.Now(), ActivationDelay)
}

func rotate(ctx context.Context, sm SecretsAPI, jwks JWKSStore, prefix, service string, policy servicetoken.Policy, now time.Time, delay time.Duration) (newKID string, err error) {
	ks := newKeyStore(sm, jwks, prefix, service)
	if err := ks.checkPolicy(policy); err != nil {
		return "", err
	}
	keys, found, err := ks.readSecret(ctx)
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("%w: secret %s of issuer %s (run EnsureIssuer first)", servicetoken.ErrNoSigningKeys, ks.secret, ks.issuer)
	}
	next, err := newSigningKey(ks.issuer, now, func(kid string) bool { return keys.index(kid) >= 0 })
	if err != nil {
		return "", fmt.Errorf("servicetoken: new key for %s: %w", ks.issuer, err)
	}
	next.ActiveFrom = now.Add(delay)
	keys.Keys = append(keys.Keys, next)
	keys.Active = next.KID
	// Publish first, for the same reason as in EnsureIssuer: no signer may
	// use a key that verifiers cannot find yet.
	if err := ks.publish(ctx, keys, policy, false); err != nil {
		return "", err
	}
	if err := ks.writeSecret(ctx, keys); err != nil {
		return "", err
	}
	return next.KID, nil
}

// Retire removes a key that can no longer be in use from service's secret
// and from the JWKS; tokens it signed stop verifying once verifiers' caches
// expire (servicetoken.DefaultKeyCacheTTL). It refuses the active key
// (servicetoken.ErrActiveKey) and, with servicetoken.ErrKeyInUse and the
// time it becomes retirable, a key younger than its successor's activation
// plus SignerReloadInterval (until then a warm SignerSource may still sign
// with it) plus servicetoken.MaxUserTTL (the longest a token it signed
// lives). The secret is edited first: were the JWKS edited first and the
// secret write failed, EnsureIssuer would publish the key again.
func Retire(ctx context.Context, sm SecretsAPI, jwks JWKSStore, prefix, service, kid string) error {
	return retire(ctx, sm, jwks, prefix, service, kid, time.Now())
}

func retire(ctx context.Context, sm SecretsAPI, jwks JWKSStore, prefix, service, kid string, now time.Time) error {
	ks := newKeyStore(sm, jwks, prefix, service)
	keys, found, err := ks.readSecret(ctx)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: secret %s of issuer %s", servicetoken.ErrNoSigningKeys, ks.secret, ks.issuer)
	}
	if signing, _ := keys.signing(now); kid == keys.Active || kid == signing.KID {
		return fmt.Errorf("%w: %s signs %s's tokens now or soon; rotate first", servicetoken.ErrActiveKey, kid, ks.issuer)
	}
	i := keys.index(kid)
	inSecret := i >= 0
	if inSecret {
		at, replaced := keys.retirableAt(i)
		if !replaced {
			return fmt.Errorf("%w: no later key of %s replaces %s; rotate first", servicetoken.ErrKeyInUse, ks.issuer, kid)
		}
		if now.Before(at) {
			return fmt.Errorf("%w: %s of %s may still sign, or have signed tokens that are alive, until %s: retire it then",
				servicetoken.ErrKeyInUse, kid, ks.issuer, at.UTC().Format(time.RFC3339))
		}
		keys.Keys = slices.Delete(keys.Keys, i, i+1)
		if err := ks.writeSecret(ctx, keys); err != nil {
			return err
		}
	}
	removed, err := ks.unpublish(ctx, kid)
	if err != nil {
		return err
	}
	if !inSecret && !removed {
		return fmt.Errorf("%w: %s in secret %s or %v", servicetoken.ErrKeyNotFound, kid, ks.secret, ks.jwks)
	}
	return nil
}

// readSecret returns the issuer's keys; found is false when the secret or
// its value does not exist.
func (ks *keyStore) readSecret(ctx context.Context) (*signingKeys, bool, error) {
	out, err := ks.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ks.secret)})
	if awserr.HasCode(err, "ResourceNotFoundException") {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("servicetoken: read secret %s: %w", ks.secret, err)
	}
	// A secret created without a value has no version on AWS (the error
	// above); MiniStack instead returns a current version with no string.
	// Either way it holds no keys yet.
	if out.SecretString == nil && out.SecretBinary == nil {
		return nil, false, nil
	}
	var keys signingKeys
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &keys); err != nil {
		// Not %v of the JSON error: it could quote part of a seed.
		return nil, false, fmt.Errorf("servicetoken: secret %s is not signing-keys JSON", ks.secret)
	}
	if err := keys.validate(); err != nil {
		return nil, false, fmt.Errorf("servicetoken: secret %s: %w", ks.secret, err)
	}
	return &keys, true, nil
}

// writeSecret stores keys as the secret's new current version.
//
// Read-modify-write without a condition: Secrets Manager has no compare-
// and-swap, so two operators rotating one issuer at once can lose a key.
// These are rare operator actions (infra/keytool); do not run them
// concurrently for one issuer.
func (ks *keyStore) writeSecret(ctx context.Context, keys *signingKeys) error {
	body, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("servicetoken: encode secret %s: %w", ks.secret, err)
	}
	if _, err := ks.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(ks.secret),
		SecretString: aws.String(string(body)),
	}); err != nil {
		return fmt.Errorf("servicetoken: write secret %s: %w", ks.secret, err)
	}
	return nil
}

// checkPolicy refuses, before anything is written, a policy no key may be
// published with.
func (ks *keyStore) checkPolicy(p servicetoken.Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("servicetoken: issuer %s: %w", ks.issuer, err)
	}
	return nil
}

// publish puts every key of keys into the JWKS bound to the issuer, with
// policy; with exclusive it also removes the issuer's keys that the secret
// no longer holds (what EnsureIssuer reconciles).
func (ks *keyStore) publish(ctx context.Context, keys *signingKeys, policy servicetoken.Policy, exclusive bool) error {
	pubs, err := keys.publicKeys()
	if err != nil {
		return fmt.Errorf("servicetoken: secret %s: %w", ks.secret, err)
	}
	_, err = ks.editJWKS(ctx, func(doc *servicetoken.JWKSDocument) (bool, error) {
		changed := false
		for _, p := range pubs {
			c, err := doc.Upsert(ks.issuer, p.kid, p.key, policy)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		if exclusive {
			stale := doc.RemoveIssuerKeys(ks.issuer, func(kid string) bool { return keys.index(kid) < 0 })
			changed = changed || len(stale) > 0
		}
		return changed, nil
	})
	return err
}

// unpublish removes kid of this issuer from the JWKS and reports whether
// it was there.
func (ks *keyStore) unpublish(ctx context.Context, kid string) (bool, error) {
	return ks.editJWKS(ctx, func(doc *servicetoken.JWKSDocument) (bool, error) {
		return len(doc.RemoveIssuerKeys(ks.issuer, func(k string) bool { return k == kid })) > 0, nil
	})
}

// editJWKS applies edit to the JWKS and writes it back if edit reports a
// change.
//
// The JWKS holds every issuer's keys and its store has no conditional
// write, so two edits at once can lose one (both read version n, both
// write). The writer that comes second can tell (JWKSStore.Save reports
// servicetoken.ErrConcurrentEdit) and fails loudly; the lost key is
// restored by running EnsureIssuer for the affected issuers (or Retire
// again). Operator actions only: serialise them.
func (ks *keyStore) editJWKS(ctx context.Context, edit func(*servicetoken.JWKSDocument) (bool, error)) (bool, error) {
	doc := &servicetoken.JWKSDocument{}
	text, readVersion, found, err := ks.jwks.Load(ctx)
	if err != nil {
		return false, err
	}
	if found {
		if doc, err = servicetoken.ParseJWKSDocument([]byte(text)); err != nil {
			return false, fmt.Errorf("servicetoken: %v: %w", ks.jwks, err)
		}
	}
	changed, err := edit(doc)
	if err != nil {
		return false, fmt.Errorf("servicetoken: %v: %w", ks.jwks, err)
	}
	if !changed {
		return false, nil
	}
	body, err := doc.Marshal()
	if err != nil {
		return false, fmt.Errorf("servicetoken: %v: %w", ks.jwks, err)
	}
	if err := ks.jwks.Save(ctx, string(body), readVersion); err != nil {
		if errors.Is(err, servicetoken.ErrConcurrentEdit) {
			err = fmt.Errorf("%w; this edit was for %s: run keytool ensure for every issuer to republish what it added", err, ks.issuer)
		}
		return false, err
	}
	return true, nil
}

// SecretDescription describes the signing secret of issuer, wherever it is
// created (here, or by Terraform as an empty container: shared/deployment).
func SecretDescription(issuer string) string {
	return "Ed25519 token signing keys of issuer " + issuer + " (managed by infra/keytool)"
}
