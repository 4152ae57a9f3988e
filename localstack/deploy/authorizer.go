package main

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/manifest"
)

// The authorizer's contract with the function (functions/platform/authorizer):
// a REQUEST authorizer on payload 2.0 answering {"isAuthorized", "context"}.
const (
	authorizerIdentity = "$request.header.Authorization"
	// authorizerTTL caches a verdict per Authorization header for a minute:
	// tokens live longer than that, and a revoked key then stops working
	// within a minute without every request paying for the authorizer.
	authorizerTTL = 60
)

// authorizerFunction is the function of kind authorizer, or nil.
// manifest.Load allows at most one.
func authorizerFunction(fns []*manifest.Function) *manifest.Function {
	for _, fn := range fns {
		if fn.Kind == manifest.KindAuthorizer {
			return fn
		}
	}
	return nil
}

func (d *deployer) authorizerName() string { return d.prefix + "-authorizer" }

// authorizerURI is the Lambda invocation URI API Gateway calls an authorizer
// function by; unlike an AWS_PROXY integration, an authorizer takes only this
// form, never the bare function ARN.
func authorizerURI(region, fnARN string) string {
	return "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + fnARN + "/invocations"
}

// wantAuthorizer is the authorizer the API must have.
func wantAuthorizer(name, uri string) gtypes.Authorizer {
	return gtypes.Authorizer{
		Name:                           aws.String(name),
		AuthorizerType:                 gtypes.AuthorizerTypeRequest,
		AuthorizerUri:                  aws.String(uri),
		AuthorizerPayloadFormatVersion: aws.String(payloadVersion),
		// {"isAuthorized": bool, "context": {...}} instead of an IAM policy:
		// the authorizer only authenticates, it has no per-route decision
		// to express.
		EnableSimpleResponses:        aws.Bool(true),
		IdentitySource:               []string{authorizerIdentity},
		AuthorizerResultTtlInSeconds: aws.Int32(authorizerTTL),
	}
}

// authorizerDiff names the managed fields of have that differ from want, in
// a fixed order; empty means no UpdateAuthorizer is needed.
func authorizerDiff(want, have gtypes.Authorizer) []string {
	var diff []string
	if have.AuthorizerType != want.AuthorizerType {
		diff = append(diff, "type")
	}
	if aws.ToString(have.AuthorizerUri) != aws.ToString(want.AuthorizerUri) {
		diff = append(diff, "uri")
	}
	if aws.ToString(have.AuthorizerPayloadFormatVersion) != aws.ToString(want.AuthorizerPayloadFormatVersion) {
		diff = append(diff, "payload version")
	}
	if aws.ToBool(have.EnableSimpleResponses) != aws.ToBool(want.EnableSimpleResponses) {
		diff = append(diff, "simple responses")
	}
	if !slices.Equal(have.IdentitySource, want.IdentitySource) {
		diff = append(diff, "identity source")
	}
	if aws.ToInt32(have.AuthorizerResultTtlInSeconds) != aws.ToInt32(want.AuthorizerResultTtlInSeconds) {
		diff = append(diff, "ttl")
	}
	return diff
}

// pickAuthorizer splits the API's authorizers named name into the one to
// keep (the lowest id of type REQUEST, so every run picks the same) and the
// rest, to delete once no route uses them. An authorizer of another type
// cannot become REQUEST in place on every emulator, so it is replaced.
// Without an authorizer function (keep false) every one of them goes.
func pickAuthorizer(existing []gtypes.Authorizer, name string, keep bool) (*gtypes.Authorizer, []gtypes.Authorizer) {
	var named []gtypes.Authorizer
	for _, a := range existing {
		if aws.ToString(a.Name) == name {
			named = append(named, a)
		}
	}
	sort.Slice(named, func(i, j int) bool { return aws.ToString(named[i].AuthorizerId) < aws.ToString(named[j].AuthorizerId) })
	var kept *gtypes.Authorizer
	var stale []gtypes.Authorizer
	for _, a := range named {
		if keep && kept == nil && a.AuthorizerType == gtypes.AuthorizerTypeRequest {
			kept = &a
			continue
		}
		stale = append(stale, a)
	}
	return kept, stale
}

// ensureAuthorizer creates or updates the API's one Lambda authorizer,
// <prefix>-authorizer, invoking fn (nil: the manifests declare none). It
// returns the authorizer's id ("" without fn) and the authorizers of that
// name to delete once routes no longer use them.
func (d *deployer) ensureAuthorizer(ctx context.Context, apiID string, fn *manifest.Function, arns map[string]string) (string, []gtypes.Authorizer, error) {
	name := d.authorizerName()
	existing, err := d.listAuthorizers(ctx, apiID)
	if err != nil {
		return "", nil, err
	}
	kept, stale := pickAuthorizer(existing, name, fn != nil)
	if fn == nil {
		return "", stale, nil
	}
	fnARN := arns[fn.Name]
	if fnARN == "" {
		return "", nil, fmt.Errorf("authorizer %s: no ARN for function %s", name, fn.Name)
	}
	want := wantAuthorizer(name, authorizerURI(d.region, fnARN))

	if kept == nil {
		out, err := d.apigw.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{
			ApiId:                          &apiID,
			Name:                           want.Name,
			AuthorizerType:                 want.AuthorizerType,
			AuthorizerUri:                  want.AuthorizerUri,
			AuthorizerPayloadFormatVersion: want.AuthorizerPayloadFormatVersion,
			EnableSimpleResponses:          want.EnableSimpleResponses,
			IdentitySource:                 want.IdentitySource,
			AuthorizerResultTtlInSeconds:   want.AuthorizerResultTtlInSeconds,
		})
		if err != nil {
			return "", nil, fmt.Errorf("authorizer %s: create: %w", name, err)
		}
		id := aws.ToString(out.AuthorizerId)
		if sentMoreThanOnce(out.ResultMetadata) {
			// A retried create's twins (retried.go): no route uses them yet.
			all, err := d.listAuthorizers(ctx, apiID)
			if err != nil {
				return "", nil, err
			}
			for _, a := range all {
				if aws.ToString(a.Name) == name && aws.ToString(a.AuthorizerId) != id {
					stale = append(stale, a)
				}
			}
		}
		d.p.report("authorizer", name, statusCreated)
		return id, stale, nil
	}

	id := aws.ToString(kept.AuthorizerId)
	diff := authorizerDiff(want, *kept)
	if len(diff) == 0 {
		d.p.report("authorizer", name, statusUnchanged)
		return id, stale, nil
	}
	_, err = d.apigw.UpdateAuthorizer(ctx, &apigatewayv2.UpdateAuthorizerInput{
		ApiId:                          &apiID,
		AuthorizerId:                   &id,
		Name:                           want.Name,
		AuthorizerType:                 want.AuthorizerType,
		AuthorizerUri:                  want.AuthorizerUri,
		AuthorizerPayloadFormatVersion: want.AuthorizerPayloadFormatVersion,
		EnableSimpleResponses:          want.EnableSimpleResponses,
		IdentitySource:                 want.IdentitySource,
		AuthorizerResultTtlInSeconds:   want.AuthorizerResultTtlInSeconds,
	})
	if err != nil {
		return "", nil, fmt.Errorf("authorizer %s (%s): update (%v): %w", name, id, diff, err)
	}
	d.p.report("authorizer", name, statusUpdated)
	return id, stale, nil
}

func (d *deployer) listAuthorizers(ctx context.Context, apiID string) ([]gtypes.Authorizer, error) {
	var all []gtypes.Authorizer
	in := &apigatewayv2.GetAuthorizersInput{ApiId: &apiID}
	for {
		out, err := d.apigw.GetAuthorizers(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("api %s: list authorizers: %w", apiID, err)
		}
		all = append(all, out.Items...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
}

// deleteAuthorizers removes authorizers no route uses any more (ensureRoutes
// has moved every route off them: AWS refuses to delete one still attached).
func (d *deployer) deleteAuthorizers(ctx context.Context, apiID string, stale []gtypes.Authorizer) error {
	for _, a := range stale {
		id := aws.ToString(a.AuthorizerId)
		if _, err := d.apigw.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: &apiID, AuthorizerId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return fmt.Errorf("authorizer %s (%s): delete: %w", aws.ToString(a.Name), id, err)
		}
		d.p.report("authorizer", aws.ToString(a.Name)+" "+id, statusDeleted)
	}
	return nil
}
