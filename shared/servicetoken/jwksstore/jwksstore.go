// Package jwksstore is the operator side of the published JWK Set: the SSM
// parameter naming.JWKSParameter(prefix) as key maintenance reads and
// writes it, with versions, through the SDK's SSM client. Verifiers never
// import it (they read the parameter through ssmkeys, which links no SSM
// client); infra/keytool and the local deployer do.
//
//	jwks := jwksstore.New(ssm.NewFromConfig(cfg), naming.JWKSParameter(prefix))
//	created, err := keystore.EnsureIssuer(ctx, sm, jwks, prefix, service, policy)
package jwksstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// SSMAPI is the part of *ssm.Client a Store uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// Store is the JWKS parameter as key maintenance edits it: the
// keystore.JWKSStore that keystore.EnsureIssuer, Rotate and Retire take.
// It needs ssm:GetParameter and ssm:PutParameter on the parameter.
type Store struct {
	api       SSMAPI
	parameter string
}

// New edits the JWK Set in parameter (naming.JWKSParameter).
func New(api SSMAPI, parameter string) *Store {
	return &Store{api: api, parameter: parameter}
}

// String names the parameter in error messages.
func (s *Store) String() string { return "JWKS parameter " + s.parameter }

// Load returns the parameter's value and version; found is false (and
// version 0) when the parameter does not exist yet.
func (s *Store) Load(ctx context.Context) (doc string, version int64, found bool, err error) {
	out, err := s.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.parameter)})
	switch {
	case awserr.HasCode(err, "ParameterNotFound"):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, fmt.Errorf("servicetoken: read JWKS parameter %s: %w", s.parameter, err)
	case out.Parameter == nil:
		return "", 0, false, fmt.Errorf("servicetoken: read JWKS parameter %s: no value", s.parameter)
	}
	return aws.ToString(out.Parameter.Value), out.Parameter.Version, true, nil
}

// Save writes doc as the parameter's new version; readVersion is the
// version Load returned (0 when it found none).
//
// SSM has no conditional put, so two edits at once can lose one (both read
// version n, both write). The writer that comes second can tell: Save
// looks at the versions between readVersion and the one it wrote, and
// fails with an error wrapping servicetoken.ErrConcurrentEdit when one of
// them is not its own write. The write has happened by then; what the other
// edit added is lost until it is made again.
func (s *Store) Save(ctx context.Context, doc string, readVersion int64) error {
	put, err := s.api.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(s.parameter),
		Value:       aws.String(doc),
		Type:        ssmtypes.ParameterTypeString,
		Description: aws.String("Ed25519 public keys of every token issuer (JWK Set; managed by infra/keytool)"),
		Overwrite:   aws.Bool(true),
		// Standard parameters hold 4 KB, about 25 keys; past that SSM
		// switches this one to the advanced tier instead of failing.
		Tier: ssmtypes.ParameterTierIntelligentTiering,
	})
	if err != nil {
		return fmt.Errorf("servicetoken: write JWKS parameter %s: %w", s.parameter, err)
	}
	return s.checkNoLostEdit(ctx, readVersion, put.Version, doc)
}

// checkNoLostEdit looks at the versions between the one edited and the
// one written. Each must hold what we wrote: the SDK retries a put whose
// response it lost (MiniStack drops connections often enough for this to
// happen in tests), and each retry is a version of its own. A version
// with other content is a concurrent edit that our write overwrote.
func (s *Store) checkNoLostEdit(ctx context.Context, readVersion, wroteVersion int64, doc string) error {
	for v := readVersion + 1; v < wroteVersion; v++ {
		name := fmt.Sprintf("%s:%d", s.parameter, v)
		out, err := s.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil {
			return fmt.Errorf("servicetoken: check JWKS parameter %s for concurrent edits: %w", name, err)
		}
		if out.Parameter == nil || aws.ToString(out.Parameter.Value) != doc {
			return fmt.Errorf("%w: JWKS parameter %s changed while it was being edited (version %d is another edit, now overwritten)",
				servicetoken.ErrConcurrentEdit, s.parameter, v)
		}
	}
	return nil
}
