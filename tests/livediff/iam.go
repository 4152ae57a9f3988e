package livediff

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// readRoles reads every role the stack owns by name, whether a function
// uses it or not: an orphan role shows.
func readRoles(ctx context.Context, sn *snapshot) error {
	var names []string
	p := iam.NewListRolesPaginator(sn.iam, &iam.ListRolesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list roles: %w", err)
		}
		for _, r := range out.Roles {
			if name := aws.ToString(r.RoleName); sn.n.owns(name) {
				names = append(names, name)
			}
		}
	}
	roles := map[string]Role{}
	var mu sync.Mutex
	err := forEach(names, func(name string) error {
		r, err := readRole(ctx, sn.iam, name)
		if err != nil {
			return fmt.Errorf("role %s: %w", name, err)
		}
		mu.Lock()
		roles[name] = r
		mu.Unlock()
		return nil
	})
	sn.s.Roles = roles
	return err
}

func readRole(ctx context.Context, c *iam.Client, name string) (Role, error) {
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		return Role{}, fmt.Errorf("get: %w", err)
	}
	role := got.Role
	r := Role{
		Path:           aws.ToString(role.Path),
		Description:    aws.ToString(role.Description),
		MaxSessionSecs: aws.ToInt32(role.MaxSessionDuration),
		Inline:         map[string]Policy{},
	}
	if role.PermissionsBoundary != nil {
		r.PermissionsBoundary = aws.ToString(role.PermissionsBoundary.PermissionsBoundaryArn)
	}
	for _, t := range role.Tags {
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		r.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if r.Trust, err = parsePolicy(aws.ToString(role.AssumeRolePolicyDocument)); err != nil {
		return Role{}, fmt.Errorf("trust policy: %w", err)
	}

	var inline []string
	ip := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: &name})
	for ip.HasMorePages() {
		out, err := ip.NextPage(ctx)
		if err != nil {
			return Role{}, fmt.Errorf("list inline policies: %w", err)
		}
		inline = append(inline, out.PolicyNames...)
	}
	for _, pn := range inline {
		out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &pn})
		if err != nil {
			return Role{}, fmt.Errorf("inline policy %s: %w", pn, err)
		}
		if r.Inline[pn], err = parsePolicy(aws.ToString(out.PolicyDocument)); err != nil {
			return Role{}, fmt.Errorf("inline policy %s: %w", pn, err)
		}
	}

	ap := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	for ap.HasMorePages() {
		out, err := ap.NextPage(ctx)
		if err != nil {
			return Role{}, fmt.Errorf("list attached policies: %w", err)
		}
		for _, a := range out.AttachedPolicies {
			if r.Managed == nil {
				r.Managed = map[string]bool{}
			}
			r.Managed[aws.ToString(a.PolicyArn)] = true
		}
	}
	return r, nil
}
