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
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/naming"
)

// authorizerURI is the Lambda invocation URI API Gateway calls an authorizer
// function by; unlike an AWS_PROXY integration, an authorizer takes only this
// form, never the bare function ARN.
func authorizerURI(region, fnARN string) string {
	return "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + fnARN + "/invocations"
}

// wantAuthorizer is the model's authorizer as API Gateway describes it,
// invoking uri.
func wantAuthorizer(a *deployment.Authorizer, uri string) gtypes.Authorizer {
	return gtypes.Authorizer{
		Name:                           aws.String(a.Name),
		AuthorizerType:                 gtypes.AuthorizerType(a.Type),
		AuthorizerUri:                  aws.String(uri),
		AuthorizerPayloadFormatVersion: aws.String(a.PayloadVersion),
		EnableSimpleResponses:          aws.Bool(a.SimpleResponses),
		IdentitySource:                 slices.Clone(a.IdentitySources),
		AuthorizerResultTtlInSeconds:   aws.Int32(int32(a.TTLSeconds)),
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
// keep (the lowest id of type typ, so every run picks the same) and the
// rest, to delete once no route uses them. An authorizer of another type
// cannot change type in place on every emulator, so it is replaced.
// Without an authorizer in the model (keep false) every one of them goes.
func pickAuthorizer(existing []gtypes.Authorizer, name string, typ gtypes.AuthorizerType, keep bool) (*gtypes.Authorizer, []gtypes.Authorizer) {
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
		if keep && kept == nil && a.AuthorizerType == typ {
			kept = &a
			continue
		}
		stale = append(stale, a)
	}
	return kept, stale
}

// ensureAuthorizer creates or updates the API's one Lambda authorizer as
// the model has it (none: every route is open). It returns the authorizer's
// id ("" without one) and the authorizers of its name to delete once routes
// no longer use them.
func (d *deployer) ensureAuthorizer(ctx context.Context, apiID string, arns map[string]string) (string, []gtypes.Authorizer, error) {
	model := d.model.API.Authorizer
	// Without one in the model, the authorizer the deployer would have
	// made goes all the same.
	name, typ := naming.Authorizer(d.model.Prefix), gtypes.AuthorizerTypeRequest
	if model != nil {
		name, typ = model.Name, gtypes.AuthorizerType(model.Type)
	}
	existing, err := d.listAuthorizers(ctx, apiID)
	if err != nil {
		return "", nil, err
	}
	kept, stale := pickAuthorizer(existing, name, typ, model != nil)
	if model == nil {
		return "", stale, nil
	}
	fnARN := arns[model.Function]
	if fnARN == "" {
		return "", nil, fmt.Errorf("authorizer %s: no ARN for function %s", name, model.Function)
	}
	want := wantAuthorizer(model, authorizerURI(d.region, fnARN))

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
