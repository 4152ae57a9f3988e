// Package ssmkeys is the verifier side of shared/servicetoken on SSM
// Parameter Store: it reads the published JWK Set from the parameter
// naming.JWKSParameter(prefix) and caches it.
//
//	keys := ssmkeys.NewSSMKeySource(cfg, naming.JWKSParameter(prefix), 0) // cfg from shared/awsconfig
//	verifier := servicetoken.NewVerifier(keys, naming.Audience(prefix))
//
// It links neither the SDK's SSM client nor Secrets Manager's: every
// function that verifies tokens initialises what it links at cold start,
// and a verifier needs one GetParameter call, which Reader makes with the
// SDK's signer and HTTP client (see reader.go for the measurement). Key
// maintenance edits the parameter with the real SSM client, in package
// jwksstore; signers read their keys in package keystore.
package ssmkeys
