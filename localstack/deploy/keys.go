package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// operatorIssuer is the issuer of tokens minted by people and tools outside
// the services (tests, scripts acting as an operator). It has no function, so
// no manifest asks for it; the deployer always creates it.
const operatorIssuer = "operator"

// issuers lists, sorted and once each, the services some function of which
// signs tokens (permissions.signingKey), plus the operator.
func issuers(set *manifest.Set) []string {
	names := []string{operatorIssuer}
	for _, fn := range set.Functions() {
		if fn.Permissions.SigningKey && !slices.Contains(names, fn.Service) {
			names = append(names, fn.Service)
		}
	}
	slices.Sort(names)
	return names
}

// ensureIssuers makes every issuer's signing secret and publishes its public
// key, before any function is deployed: a function that signs or verifies
// tokens then finds its keys on its first invocation. One at a time, since
// every issuer adds its key to the same JWKS parameter.
func (d *deployer) ensureIssuers(ctx context.Context, set *manifest.Set) error {
	jwks := ssmkeys.NewJWKSStore(d.ssm, naming.JWKSParameter(d.prefix))
	for _, svc := range issuers(set) {
		name := naming.Issuer(d.prefix, svc)
		created, err := keystore.EnsureIssuer(ctx, d.sm, jwks, d.prefix, svc)
		if err != nil {
			return fmt.Errorf("issuer %s: %w", name, err)
		}
		status := statusUnchanged
		if created {
			status = statusCreated
		}
		d.p.report("issuer", name, status)
	}
	return nil
}
