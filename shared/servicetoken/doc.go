// Package servicetoken issues and verifies the short-lived signed tokens that
// services present to each other (kind "service") and that login hands to
// users (kind "user"): Ed25519 JWTs (JWS alg EdDSA) with a key id, issuer,
// audience, scopes and expiry.
//
//	claims, err := servicetoken.NewVerifier(keys, naming.Audience(prefix)).Verify(ctx, token, "inventory:write")
//
// Keys. Each issuer (naming.Issuer(prefix, service)) keeps its private keys
// in the Secrets Manager secret naming.SigningSecret(prefix, service); only
// the issuer's own functions may read it (keystore.LoadSigner). Every
// issuer's public keys are published together as a JWK Set in the SSM
// parameter naming.JWKSParameter(prefix), each key bound to its issuer by an
// "iss" member and carrying that issuer's Policy (what it may mint: token
// kinds, the subject of its service tokens, their scopes), and verifiers
// read only that (ssmkeys.NewSSMKeySource). The policies come from the
// deployment model: each service's service.yaml declares its "tokens"
// (shared/manifest), the operator's is in code there.
// keystore.EnsureIssuer, Rotate and Retire are the operator actions that
// maintain both (see infra/keytool).
//
// This package imports no AWS service client. Signers read their keys with
// keystore (Secrets Manager's client); verifiers read the JWKS with ssmkeys,
// which makes its one signed GetParameter call without the SDK's SSM
// client; operators edit the JWKS with jwksstore (the SSM client). Go
// initialises every package a binary links, and the SSM client alone costs
// about 1 ms of every cold start, so a verifier links neither client and a
// signer only Secrets Manager's.
//
// Verification trusts nothing in the token to choose how it is verified:
// the header must say alg EdDSA, the key comes from the key set by kid and
// never from the token (jwk, jku, x5u and x5c headers are ignored), the
// signature is checked as EdDSA explicitly, and the token's issuer must be
// the one its key is bound to, so a key of service A cannot mint tokens as B,
// and the token must be one that issuer may mint (Policy): login's key mints
// user tokens only, a service's key service tokens for itself with its own
// scopes, a key without a policy nothing. User tokens carry no scopes.
// Every rejection wraps ErrInvalid (answer 401); an error that does not is a
// failure to load keys (answer 503), never a verdict on the token.
package servicetoken
