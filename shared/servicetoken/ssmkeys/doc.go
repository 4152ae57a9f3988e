// Package ssmkeys is the SSM Parameter Store side of shared/servicetoken:
// verifiers read the published JWK Set from the parameter
// naming.JWKSParameter(prefix) (NewSSMKeySource), and key maintenance edits
// it through NewJWKSStore (a keystore.JWKSStore).
//
//	keys := ssmkeys.NewSSMKeySource(ssm.NewFromConfig(cfg), naming.JWKSParameter(prefix), 0)
//	verifier := servicetoken.NewVerifier(keys, naming.Audience(prefix))
//
// It imports the SSM client and not Secrets Manager's, so a function that
// only verifies tokens does not initialise the Secrets Manager package at
// cold start (see keystore for the other side).
package ssmkeys

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SSMAPI is the part of *ssm.Client this package uses. NewSSMKeySource
// calls only GetParameter (the permission a verifier needs).
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}
