package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// policyDocument is an IAM policy; marshalled from structs so the JSON is
// deterministic and can be compared with what IAM holds.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string                         `json:"Sid,omitempty"`
	Effect    string                         `json:"Effect"`
	Principal map[string]string              `json:"Principal,omitempty"`
	Action    any                            `json:"Action"`
	Resource  any                            `json:"Resource,omitempty"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

func trustPolicy() policyDocument {
	return policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": "lambda.amazonaws.com"},
		Action:    "sts:AssumeRole",
	}}}
}

// functionPolicy is the least privilege of one function: write its own log
// group; the manifest's DynamoDB actions on its own service's table and that
// table's indexes; and, when the manifest asks, read its own service's
// signing secret, read the published public keys, and keep circuit-breaker
// state in the platform table. Nothing else.
func functionPolicy(region, account, prefix string, fn *manifest.Function) policyDocument {
	logGroup := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s", region, account, naming.Function(prefix, fn.Name))
	doc := policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Sid:      "OwnLogs",
		Effect:   "Allow",
		Action:   []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		Resource: []string{logGroup, logGroup + ":*"},
	}}}
	perms := fn.Permissions
	if len(perms.DynamoDB) > 0 {
		table := tableARN(region, account, naming.Table(prefix, fn.Service))
		actions := make([]string, 0, len(perms.DynamoDB))
		for _, a := range perms.DynamoDB {
			actions = append(actions, "dynamodb:"+a)
		}
		slices.Sort(actions)
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "OwnTable",
			Effect:   "Allow",
			Action:   actions,
			Resource: []string{table, table + "/index/*"},
		})
	}
	if perms.SigningKey {
		// Secrets Manager appends "-" and six random characters to a
		// secret's ARN; "-??????" matches exactly that suffix, where "*"
		// would also match a secret named <prefix>/signing/<service>-other.
		secret := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-??????", region, account, naming.SigningSecret(prefix, fn.Service))
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "ReadOwnSigningKeys",
			Effect:   "Allow",
			Action:   []string{"secretsmanager:GetSecretValue"},
			Resource: []string{secret},
		})
	}
	if perms.PublicKeys {
		// The parameter name starts with "/", which the ARN's "parameter"
		// already ends with: arn:...:parameter/<prefix>/jwks.
		param := fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, account, naming.JWKSParameter(prefix))
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "ReadPublicKeys",
			Effect:   "Allow",
			Action:   []string{"ssm:GetParameter"},
			Resource: []string{param},
		})
	}
	if perms.Breakers {
		// The platform table also holds other platform state; LeadingKeys
		// confines the function to the breaker items' partition keys. The
		// table alone (no index/*): breaker state is read and written by key.
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:       "SharedBreakers",
			Effect:    "Allow",
			Action:    breakerActions,
			Resource:  []string{tableARN(region, account, naming.Table(prefix, naming.PlatformService))},
			Condition: map[string]map[string][]string{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {breakerKeyPattern}}},
		})
	}
	return doc
}

// breakerActions are what a shared circuit breaker does with its item: read
// the state, create it, and move it conditionally (closed -> open ->
// half-open) so concurrent instances never overwrite each other.
var breakerActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}

// breakerKeyPattern matches the partition keys of breaker items.
const breakerKeyPattern = "BREAKER#*"

func tableARN(region, account, table string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, table)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only ever called on the structs above
	}
	return string(b)
}

// samePolicy compares two policy documents by meaning, not bytes: IAM hands
// documents back URL-encoded and may reorder keys or reformat.
func samePolicy(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(decodePolicy(a)), &va) != nil || json.Unmarshal([]byte(decodePolicy(b)), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodePolicy(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc
	}
	if dec, err := url.QueryUnescape(doc); err == nil {
		return dec
	}
	return doc
}

// ensureRole makes the role <prefix>-<name> with the Lambda trust policy and
// the function's inline policy, and returns its ARN.
func (d *deployer) ensureRole(ctx context.Context, fn *manifest.Function) (string, error) {
	name := naming.Function(d.prefix, fn.Name)
	trust := mustJSON(trustPolicy())
	status := statusUnchanged
	var arn string
	got, err := d.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	switch {
	case awserr.HasCode(err, "NoSuchEntity"):
		out, err := d.iam.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 &name,
			AssumeRolePolicyDocument: &trust,
			Description:              aws.String("shop function " + fn.Name),
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
	}

	account, err := arnAccount(arn)
	if err != nil {
		return "", fmt.Errorf("role %s: %w", name, err)
	}
	policy := mustJSON(functionPolicy(d.region, account, d.prefix, fn))
	current := ""
	if status != statusCreated {
		out, err := d.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &name})
		switch {
		case awserr.HasCode(err, "NoSuchEntity"):
		case err != nil:
			return "", fmt.Errorf("role %s: get inline policy: %w", name, err)
		default:
			current = aws.ToString(out.PolicyDocument)
		}
	}
	if current == "" || !samePolicy(current, policy) {
		if _, err := d.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: &name, PolicyDocument: &policy}); err != nil {
			return "", fmt.Errorf("role %s: put inline policy: %w", name, err)
		}
		if status == statusUnchanged {
			status = statusUpdated
		}
	}
	d.p.report("role", name, status)
	return arn, nil
}
