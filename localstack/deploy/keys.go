package main

import (
	"context"
	"fmt"

	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// ensureIssuers makes every issuer's signing secret and publishes its public
// key with what the issuer may mint, before any function is deployed: a
// function that signs or verifies tokens then finds its keys on its first
// invocation, and a changed declaration is in force before the code that
// relies on it. One at a time, since every issuer edits the same JWKS
// parameter.
func (d *deployer) ensureIssuers(ctx context.Context) error {
	jwks := jwksstore.New(d.ssm, d.model.JWKSParameter)
	for _, iss := range d.model.Issuers {
		created, err := keystore.EnsureIssuer(ctx, d.sm, jwks, d.model.Prefix, iss.Service, iss.Policy)
		if err != nil {
			return fmt.Errorf("issuer %s: %w", iss.Issuer, err)
		}
		status := statusUnchanged
		if created {
			status = statusCreated
		}
		d.p.report("issuer", iss.Issuer, status)
	}
	return nil
}
