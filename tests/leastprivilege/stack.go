package leastprivilege

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/tests/iampolicy"
)

// Stack reads functions, their roles' policies and their recorded calls
// from a deployed stack, and resolves what Check asks a Resolver.
type Stack struct {
	lambda  *lambda.Client
	iam     *iam.Client
	logs    *cloudwatchlogs.Client
	ddb     *dynamodb.Client
	secrets *secretsmanager.Client

	mu      sync.Mutex
	arns    map[string]string // secret id -> ARN
	pkNames map[string]string // table -> partition key attribute
}

// lambdaTimeLayout is how Lambda writes a function's LastModified.
const lambdaTimeLayout = "2006-01-02T15:04:05.000-0700"

// NewStack reads the stack cfg points at.
func NewStack(cfg aws.Config) *Stack {
	return &Stack{
		lambda:  lambda.NewFromConfig(cfg),
		iam:     iam.NewFromConfig(cfg),
		logs:    cloudwatchlogs.NewFromConfig(cfg),
		ddb:     dynamodb.NewFromConfig(cfg),
		secrets: secretsmanager.NewFromConfig(cfg),
		arns:    map[string]string{},
		pkNames: map[string]string{},
	}
}

// Functions reads each named function with the calls it recorded since it
// was last deployed, or since then if that is earlier, several at a time.
// Not only since then: a warm instance makes some calls once and caches the
// answer (a signing key, the public keys), perhaps during an earlier run
// against the same deployment, and what it did then needs a grant as much.
func (s *Stack) Functions(ctx context.Context, names []string, since time.Time) []Function {
	fns := make([]Function, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			fns[i] = s.function(ctx, name, since)
		})
	}
	wg.Wait()
	return fns
}

func (s *Stack) function(ctx context.Context, name string, since time.Time) Function {
	fn := Function{Name: name}
	got, err := s.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		fn.Err = fmt.Errorf("not deployed: %w", err)
		return fn
	}
	cfg := got.Configuration
	fn.ARN = aws.ToString(cfg.FunctionArn)
	fn.Recording = cfg.Environment != nil && cfg.Environment.Variables[awscalls.EnvSwitch] == "1"
	if fn.Policies, err = s.rolePolicies(ctx, aws.ToString(cfg.Role)); err != nil {
		fn.Err = err
		return fn
	}
	if deployed, err := time.Parse(lambdaTimeLayout, aws.ToString(cfg.LastModified)); err == nil && deployed.Before(since) {
		since = deployed
	}
	if fn.Calls, err = s.recordedCalls(ctx, "/aws/lambda/"+name, since); err != nil {
		fn.Err = err
		return fn
	}
	if fn.Mappings, err = s.mappings(ctx, name); err != nil {
		fn.Err = err
	}
	return fn
}

// mappings reads the function's event source mappings.
func (s *Stack) mappings(ctx context.Context, name string) ([]Mapping, error) {
	var out []Mapping
	pages := lambda.NewListEventSourceMappingsPaginator(s.lambda, &lambda.ListEventSourceMappingsInput{FunctionName: &name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("event source mappings: %w", err)
		}
		for _, m := range page.EventSourceMappings {
			mapping := Mapping{Source: aws.ToString(m.EventSourceArn)}
			if d := m.DestinationConfig; d != nil && d.OnFailure != nil {
				mapping.OnFailure = aws.ToString(d.OnFailure.Destination)
			}
			out = append(out, mapping)
		}
	}
	return out, nil
}

// rolePolicies returns every policy the role has: inline and attached.
func (s *Stack) rolePolicies(ctx context.Context, roleARN string) ([]iampolicy.Policy, error) {
	role := roleARN[strings.LastIndex(roleARN, "/")+1:] // roles may have a path
	got, err := s.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &role})
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", role, err)
	}
	if got.Role.PermissionsBoundary != nil {
		return nil, fmt.Errorf("role %s has a permissions boundary, which this check does not evaluate", role)
	}
	var policies []iampolicy.Policy
	inline := iam.NewListRolePoliciesPaginator(s.iam, &iam.ListRolePoliciesInput{RoleName: &role})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("role %s: list inline policies: %w", role, err)
		}
		for _, name := range page.PolicyNames {
			doc, err := s.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &name})
			if err != nil {
				return nil, fmt.Errorf("role %s: inline policy %s: %w", role, name, err)
			}
			p, err := iampolicy.Parse(name, aws.ToString(doc.PolicyDocument))
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", role, err)
			}
			policies = append(policies, p)
		}
	}
	attached := iam.NewListAttachedRolePoliciesPaginator(s.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("role %s: list attached policies: %w", role, err)
		}
		for _, ap := range page.AttachedPolicies {
			p, err := s.managedPolicy(ctx, aws.ToString(ap.PolicyArn))
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", role, err)
			}
			policies = append(policies, p)
		}
	}
	if len(policies) == 0 {
		return nil, fmt.Errorf("role %s has no policy", role)
	}
	return policies, nil
}

func (s *Stack) managedPolicy(ctx context.Context, policyARN string) (iampolicy.Policy, error) {
	got, err := s.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &policyARN})
	if err != nil {
		return iampolicy.Policy{}, fmt.Errorf("attached policy %s: %w", policyARN, err)
	}
	v, err := s.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &policyARN, VersionId: got.Policy.DefaultVersionId})
	if err != nil {
		return iampolicy.Policy{}, fmt.Errorf("attached policy %s: default version: %w", policyARN, err)
	}
	return iampolicy.Parse(policyARN, aws.ToString(v.PolicyVersion.Document))
}

// recordedCalls reads the calls a function recorded in its log group since
// then. Every line is read and parsed here rather than picked by a filter
// pattern, so that an emulator's filter cannot drop a call unseen. A group
// that does not exist yet belongs to a function never invoked.
func (s *Stack) recordedCalls(ctx context.Context, group string, since time.Time) ([]awscalls.Call, error) {
	var calls []awscalls.Call
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(s.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: &group,
		StartTime:    aws.Int64(since.UnixMilli()),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if awserr.HasCode(err, "ResourceNotFoundException") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("log group %s: %w", group, err)
		}
		for _, e := range page.Events {
			if c, ok := awscalls.ParseLine(aws.ToString(e.Message)); ok {
				calls = append(calls, c)
			}
		}
	}
	return calls, nil
}

// SecretARN implements Resolver through Secrets Manager.
func (s *Stack) SecretARN(ctx context.Context, id string) (string, error) {
	return s.cached(s.arns, id, func() (string, error) {
		got, err := s.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &id})
		if err != nil {
			return "", err
		}
		return aws.ToString(got.ARN), nil
	})
}

// PartitionKey implements Resolver through DescribeTable.
func (s *Stack) PartitionKey(ctx context.Context, table string) (string, error) {
	return s.cached(s.pkNames, table, func() (string, error) {
		got, err := s.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if err != nil {
			return "", err
		}
		for _, k := range got.Table.KeySchema {
			if k.KeyType == dtypes.KeyTypeHash {
				return aws.ToString(k.AttributeName), nil
			}
		}
		return "", errors.New("no HASH key in its schema")
	})
}

// cached returns m[key], asking look the first time: the resolver is asked
// the same few things for every call.
func (s *Stack) cached(m map[string]string, key string, look func() (string, error)) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := m[key]; ok {
		return v, nil
	}
	v, err := look()
	if err != nil {
		return "", err
	}
	m[key] = v
	return v, nil
}
