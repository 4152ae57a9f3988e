package servicetoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// jwkEntry is one published key (RFC 7517, RFC 8037 for OKP). "iss" and
// the policy members are our extension: "iss" binds the key to the only
// issuer it may sign for, and "kinds", "sub" and "scopes" say what that
// issuer may mint (Policy; "scopes": ["*"] is AnyScope). A key without
// them verifies nothing.
type jwkEntry struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg,omitempty"`
	Use    string   `json:"use,omitempty"`
	Iss    string   `json:"iss"`
	Kinds  []string `json:"kinds,omitempty"`
	Sub    string   `json:"sub,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

func publicJWK(issuer, kid string, pub ed25519.PublicKey, p Policy) jwkEntry {
	k := jwkEntry{
		Kty: "OKP", Crv: "Ed25519", Alg: "EdDSA", Use: "sig",
		X:   base64.RawURLEncoding.EncodeToString(pub),
		Kid: kid, Iss: issuer,
		Kinds: slices.Clone(p.Kinds), Sub: p.Subject, Scopes: slices.Clone(p.Scopes),
	}
	if p.AnyScope {
		k.Scopes = []string{anyScope}
	}
	return k
}

// policy reads the entry's policy members. None at all is the zero Policy
// (the key verifies nothing); some that do not make a valid Policy are an
// error, as any other broken member is.
func (k jwkEntry) policy() (Policy, error) {
	p := Policy{Kinds: k.Kinds, Subject: k.Sub, Scopes: k.Scopes}
	if slices.Equal(k.Scopes, []string{anyScope}) {
		p.Scopes, p.AnyScope = nil, true
	}
	if p.IsZero() {
		return Policy{}, nil
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// equal compares two entries member by member.
func (k jwkEntry) equal(o jwkEntry) bool {
	return k.Kty == o.Kty && k.Crv == o.Crv && k.X == o.X && k.Kid == o.Kid && k.Alg == o.Alg && k.Use == o.Use &&
		k.Iss == o.Iss && slices.Equal(k.Kinds, o.Kinds) && k.Sub == o.Sub && slices.Equal(k.Scopes, o.Scopes)
}

// ours reports a key this package verifies with; anything else in the set
// (another key type, an encryption key) belongs to someone else and is
// skipped, never an error.
func (k jwkEntry) ours() bool {
	return k.Kty == "OKP" && k.Crv == "Ed25519" &&
		(k.Use == "" || k.Use == "sig") && (k.Alg == "" || k.Alg == "EdDSA")
}

// ParseJWKS reads a JWK Set as published in the JWKS parameter. Ed25519
// signing keys must carry kid, iss and a valid x, with no kid twice, and
// policy members that make a valid Policy if they carry any: a key whose
// issuer binding is missing or ambiguous must never verify, and a broken
// set is an operator error to surface, not to paper over. A key with no
// policy members is read with the zero Policy, under which Verify refuses
// its every token. Keys of other types are skipped.
func ParseJWKS(data []byte) (KeySet, error) {
	entries, err := jwksEntries(data)
	if err != nil {
		return nil, err
	}
	set := make(KeySet, len(entries))
	for i, raw := range entries {
		k, err := decodeJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("jwks: keys[%d]: %w", i, err)
		}
		if !k.ours() {
			continue
		}
		pub, err := k.publicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("jwks: keys[%d] (kid %q): %w", i, clip(k.Kid), err)
		}
		if _, dup := set[k.Kid]; dup {
			return nil, fmt.Errorf("jwks: kid %q appears twice", clip(k.Kid))
		}
		policy, err := k.policy()
		if err != nil {
			return nil, fmt.Errorf("jwks: keys[%d] (kid %q): %w", i, clip(k.Kid), err)
		}
		set[k.Kid] = PublicKey{Issuer: k.Iss, Key: pub, Policy: policy}
	}
	return set, nil
}

func jwksEntries(data []byte) ([]json.RawMessage, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`jwks: no "keys" array`)
	}
	return *doc.Keys, nil
}

func decodeJWK(raw json.RawMessage) (jwkEntry, error) {
	var k jwkEntry
	if err := json.Unmarshal(raw, &k); err != nil {
		return jwkEntry{}, err
	}
	return k, nil
}

// publicKey validates an Ed25519 entry and returns its key.
func (k jwkEntry) publicKey(raw json.RawMessage) (ed25519.PublicKey, error) {
	switch {
	case k.Kid == "":
		return nil, errors.New("no kid")
	case k.Iss == "":
		return nil, errors.New(`no "iss": the key is bound to no issuer`)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, err
	}
	if _, private := members["d"]; private {
		return nil, errors.New(`has a private part "d": rotate this key now`)
	}
	x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("x is not a base64url Ed25519 public key")
	}
	return ed25519.PublicKey(x), nil
}

// JWKSDocument is a JWK Set being edited: the read-modify-write of the
// published set that key maintenance (keystore) does. Entries stay raw, so
// keys this package does not understand survive an edit with every member.
// The zero value is an empty set.
type JWKSDocument struct {
	entries []json.RawMessage
}

// ParseJWKSDocument reads a JWK Set for editing. Only the shape is checked
// ("keys" is an array); Marshal refuses to write back a set that ParseJWKS
// would refuse.
func ParseJWKSDocument(data []byte) (*JWKSDocument, error) {
	entries, err := jwksEntries(data)
	if err != nil {
		return nil, err
	}
	return &JWKSDocument{entries: entries}, nil
}

// Upsert publishes key as kid bound to issuer with the issuer's policy,
// replacing an entry of the same kid and issuer whose content differs (the
// signing secret is the source of truth for the key, the deployment model
// for the policy). A kid published for another issuer, or a policy that
// is zero or invalid, is an error. It reports a change.
func (d *JWKSDocument) Upsert(issuer, kid string, key ed25519.PublicKey, policy Policy) (bool, error) {
	if policy.IsZero() {
		return false, fmt.Errorf("jwks: kid %s of %q: no policy (it would verify nothing)", kid, issuer)
	}
	if err := policy.Validate(); err != nil {
		return false, fmt.Errorf("jwks: kid %s of %q: %w", kid, issuer, err)
	}
	k := publicJWK(issuer, kid, key, policy)
	enc, err := json.Marshal(k)
	if err != nil {
		return false, err
	}
	for i, raw := range d.entries {
		old, err := decodeJWK(raw)
		if err != nil || old.Kid != k.Kid {
			continue
		}
		if old.Iss != k.Iss {
			return false, fmt.Errorf("jwks: kid %s is already published for issuer %q", k.Kid, old.Iss)
		}
		if old.equal(k) {
			return false, nil
		}
		d.entries[i] = enc
		return true, nil
	}
	d.entries = append(d.entries, enc)
	return true, nil
}

// RemoveIssuerKeys drops the issuer's Ed25519 keys for which drop is true
// and returns their kids. Other issuers' keys are never touched.
func (d *JWKSDocument) RemoveIssuerKeys(issuer string, drop func(kid string) bool) []string {
	var removed []string
	kept := d.entries[:0]
	for _, raw := range d.entries {
		k, err := decodeJWK(raw)
		if err == nil && k.ours() && k.Iss == issuer && drop(k.Kid) {
			removed = append(removed, k.Kid)
			continue
		}
		kept = append(kept, raw)
	}
	d.entries = kept
	return removed
}

// Marshal renders the set, refusing one that verifiers would refuse.
func (d *JWKSDocument) Marshal() ([]byte, error) {
	entries := d.entries
	if entries == nil {
		entries = []json.RawMessage{}
	}
	out, err := json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{entries})
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if _, err := ParseJWKS(out); err != nil {
		return nil, err
	}
	return out, nil
}
