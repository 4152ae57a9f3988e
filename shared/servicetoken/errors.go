package servicetoken

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every reason Verify rejects a token, so a caller
// can tell "this token is no good" (401) from "the keys could not be loaded"
// (503) with errors.Is(err, ErrInvalid). The detail in the message is for
// logs only: never echo it to the caller.
var ErrInvalid = errors.New("servicetoken: invalid token")

// Reasons for rejecting a token; each wraps ErrInvalid.
var (
	ErrTooLarge    = fmt.Errorf("%w: too large", ErrInvalid)
	ErrMalformed   = fmt.Errorf("%w: malformed", ErrInvalid)
	ErrAlgorithm   = fmt.Errorf("%w: algorithm not allowed", ErrInvalid)
	ErrUnknownKey  = fmt.Errorf("%w: unknown key", ErrInvalid)
	ErrSignature   = fmt.Errorf("%w: bad signature", ErrInvalid)
	ErrExpired     = fmt.Errorf("%w: expired", ErrInvalid)
	ErrNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalid)
	ErrAudience    = fmt.Errorf("%w: wrong audience", ErrInvalid)
	ErrIssuer      = fmt.Errorf("%w: wrong issuer", ErrInvalid)
	ErrScope       = fmt.Errorf("%w: missing scope", ErrInvalid)
	ErrLifetime    = fmt.Errorf("%w: lifetime too long", ErrInvalid)
	// ErrPolicy: the token is not one its issuer may mint (kind, subject
	// or scope outside the Policy published with its key, a key with no
	// policy, or a user token with scopes).
	ErrPolicy = fmt.Errorf("%w: outside the issuer's policy", ErrInvalid)
)

// Errors of the key maintenance functions (package keystore and the JWKS
// stores it edits through). They live here so that a caller can test for
// them without importing the AWS service packages of either side.
var (
	// ErrNoSigningKeys: the issuer has no signing secret (run
	// keystore.EnsureIssuer).
	ErrNoSigningKeys = errors.New("servicetoken: no signing keys")
	// ErrActiveKey: keystore.Retire refuses the key that is signing today.
	ErrActiveKey = errors.New("servicetoken: key is active")
	// ErrKeyInUse: keystore.Retire refuses a key that a signer may still
	// sign with, or whose tokens may still be alive; the error says when
	// it becomes retirable.
	ErrKeyInUse = errors.New("servicetoken: key may still be in use")
	// ErrKeyNotFound: keystore.Retire found the kid neither in the secret
	// nor in the JWKS.
	ErrKeyNotFound = errors.New("servicetoken: key not found")
	// ErrConcurrentEdit: a JWKS store found, after writing, that another
	// edit had been written between the version the edit read and its own,
	// and was overwritten by it.
	ErrConcurrentEdit = errors.New("servicetoken: JWKS edited concurrently")
)

// reject wraps a rejection reason with detail for the logs.
func reject(reason error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{reason}, args...)...)
}

// clip shortens attacker-controlled strings before they reach an error
// message, so a hostile token cannot flood the logs.
func clip(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		return s[:maxLen] + "…"
	}
	return s
}
