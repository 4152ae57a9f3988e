package livediff

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/awserr"
)

// readFunctions reads the stack's functions among those discover listed.
func readFunctions(ctx context.Context, sn *snapshot) error {
	var mine []ltypes.FunctionConfiguration
	for _, f := range sn.allFunctions {
		if sn.n.owns(aws.ToString(f.FunctionName)) {
			mine = append(mine, f)
		}
	}
	fns := map[string]Function{}
	var mu sync.Mutex
	err := forEach(mine, func(c ltypes.FunctionConfiguration) error {
		name := aws.ToString(c.FunctionName)
		f, err := readFunction(ctx, sn.lambda, name)
		if err != nil {
			return fmt.Errorf("function %s: %w", name, err)
		}
		mu.Lock()
		fns[name] = f
		mu.Unlock()
		return nil
	})
	sn.s.Functions = fns
	return err
}

func readFunction(ctx context.Context, lc *lambda.Client, name string) (Function, error) {
	// GetFunction rather than the listed configuration: it adds the tags
	// and the reserved concurrency.
	out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		return Function{}, fmt.Errorf("get: %w", err)
	}
	c := out.Configuration
	f := Function{
		Description:         aws.ToString(c.Description),
		Runtime:             string(c.Runtime),
		Handler:             aws.ToString(c.Handler),
		PackageType:         string(c.PackageType),
		MemoryMB:            aws.ToInt32(c.MemorySize),
		TimeoutSecs:         aws.ToInt32(c.Timeout),
		Environment:         map[string]string{},
		Role:                roleName(aws.ToString(c.Role)),
		ReservedConcurrency: "unreserved",
		KMSKey:              aws.ToString(c.KMSKeyArn),
		CodeSize:            c.CodeSize,
		CodeSHA256:          aws.ToString(c.CodeSha256),
		Tags:                out.Tags,
	}
	if c.Environment != nil {
		for k, v := range c.Environment.Variables {
			f.Environment[k] = v
		}
	}
	if c.EphemeralStorage != nil {
		f.EphemeralStorageMB = aws.ToInt32(c.EphemeralStorage.Size)
	}
	if c.TracingConfig != nil {
		f.Tracing = string(c.TracingConfig.Mode)
	}
	if lc := c.LoggingConfig; lc != nil {
		f.LogFormat = string(lc.LogFormat)
		f.LogGroup = aws.ToString(lc.LogGroup)
		f.AppLogLevel = string(lc.ApplicationLogLevel)
		f.SystemLogLevel = string(lc.SystemLogLevel)
	}
	if out.Concurrency != nil && out.Concurrency.ReservedConcurrentExecutions != nil {
		f.ReservedConcurrency = strconv.Itoa(int(aws.ToInt32(out.Concurrency.ReservedConcurrentExecutions)))
	}
	for _, l := range c.Layers {
		f.Layers = append(f.Layers, aws.ToString(l.Arn))
	}
	if c.DeadLetterConfig != nil {
		f.DeadLetterTarget = aws.ToString(c.DeadLetterConfig.TargetArn)
	}
	for _, a := range c.Architectures {
		f.Architectures = append(f.Architectures, string(a))
	}
	slices.Sort(f.Architectures)

	pol, err := lc.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &name})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"): // no resource policy
		f.Policy = Policy{Statements: map[string]string{}}
	case err != nil:
		return Function{}, fmt.Errorf("get policy: %w", err)
	default:
		if f.Policy, err = parsePolicy(aws.ToString(pol.Policy)); err != nil {
			return Function{}, fmt.Errorf("resource policy: %w", err)
		}
	}
	return f, nil
}

// roleName is the name in a role ARN (arn:aws:iam::<account>:role/<path><name>).
func roleName(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// functionOf names the function a Lambda ARN or an API Gateway invocation
// URI (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function
// ARN>/invocations) points at, with its qualifier if any
// ("users-get:live"); "" when it points at no function.
func functionOf(uri string) string {
	_, rest, ok := strings.Cut(uri, ":function:")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "/")
	return rest
}
