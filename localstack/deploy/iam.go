package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only ever called on the model's policy structs
	}
	return string(b)
}

// samePolicy compares two policy documents by meaning, not bytes: IAM hands
// documents back URL-encoded and may reorder keys or reformat.
func samePolicy(a, b string) bool { return sameJSON(decodePolicy(a), decodePolicy(b)) }

func decodePolicy(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc
	}
	if dec, err := url.QueryUnescape(doc); err == nil {
		return dec
	}
	return doc
}

// ensureRole makes the model's role: its name, description and trust
// policy, and exactly one inline policy, role.PolicyName, holding
// role.Policy. Any other inline policy goes (the deployer once named the
// policy after the role: a stack deployed then converges). Returns the
// role's ARN.
func (d *deployer) ensureRole(ctx context.Context, role deployment.Role) (string, error) {
	name := role.Name
	trust := mustJSON(role.Trust)
	status := statusUnchanged
	var arn string
	got, err := d.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	switch {
	case awserr.HasCode(err, "NoSuchEntity"):
		out, err := d.iam.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 &name,
			AssumeRolePolicyDocument: &trust,
			Description:              &role.Description,
		})
		if awserr.HasCode(err, "EntityAlreadyExists") {
			// Our own create, retried after a lost response (retried.go).
			again, gerr := d.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
			if gerr != nil {
				return "", fmt.Errorf("role %s: create: %w; get: %w", name, err, gerr)
			}
			out, err = &iam.CreateRoleOutput{Role: again.Role}, nil
		}
		if err != nil {
			return "", fmt.Errorf("role %s: create: %w", name, err)
		}
		arn = aws.ToString(out.Role.Arn)
		status = statusCreated
	case err != nil:
		return "", fmt.Errorf("role %s: get: %w", name, err)
	default:
		arn = aws.ToString(got.Role.Arn)
		if !samePolicy(aws.ToString(got.Role.AssumeRolePolicyDocument), trust) {
			if _, err := d.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &name, PolicyDocument: &trust}); err != nil {
				return "", fmt.Errorf("role %s: update trust policy: %w", name, err)
			}
			status = statusUpdated
		}
		if aws.ToString(got.Role.Description) != role.Description {
			if _, err := d.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &name, Description: &role.Description}); err != nil {
				return "", fmt.Errorf("role %s: update description: %w", name, err)
			}
			status = statusUpdated
		}
	}

	changed, err := d.ensureInlinePolicy(ctx, name, role.PolicyName, mustJSON(role.Policy), status == statusCreated)
	if err != nil {
		return "", err
	}
	if changed && status == statusUnchanged {
		status = statusUpdated
	}
	d.p.report("role", name, status)
	return arn, nil
}

// ensureInlinePolicy leaves role with one inline policy, policyName holding
// doc, and reports whether it changed anything. A new role has none to
// read or remove.
func (d *deployer) ensureInlinePolicy(ctx context.Context, role, policyName, doc string, newRole bool) (bool, error) {
	changed := false
	current := ""
	if !newRole {
		names, err := d.inlinePolicies(ctx, role)
		if err != nil {
			return false, err
		}
		for _, other := range names {
			if other == policyName {
				continue
			}
			// Not found: our own delete, retried after a lost response.
			if _, err := d.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &role, PolicyName: &other}); err != nil && !awserr.HasCode(err, "NoSuchEntity") {
				return false, fmt.Errorf("role %s: delete inline policy %s: %w", role, other, err)
			}
			changed = true
		}
		out, err := d.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &policyName})
		switch {
		case awserr.HasCode(err, "NoSuchEntity"):
		case err != nil:
			return false, fmt.Errorf("role %s: get inline policy %s: %w", role, policyName, err)
		default:
			current = aws.ToString(out.PolicyDocument)
		}
	}
	if current != "" && samePolicy(current, doc) {
		return changed, nil
	}
	if _, err := d.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: &policyName, PolicyDocument: &doc}); err != nil {
		return false, fmt.Errorf("role %s: put inline policy %s: %w", role, policyName, err)
	}
	return true, nil
}

// inlinePolicies names the role's inline policies.
func (d *deployer) inlinePolicies(ctx context.Context, role string) ([]string, error) {
	var names []string
	pages := iam.NewListRolePoliciesPaginator(d.iam, &iam.ListRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("role %s: list inline policies: %w", role, err)
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}
