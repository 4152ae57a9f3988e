package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

const (
	lambdaRuntime = ltypes.RuntimeProvidedal2023
	lambdaHandler = "bootstrap" // ignored by provided runtimes, but AWS requires one
	functionWait  = time.Minute
	// roleWait bounds the retries of CreateFunction while IAM propagates a
	// new role (AWS answers "cannot be assumed" for a few seconds).
	roleWait = 30 * time.Second
)

// functionEnvironment is manifest.Environment plus the local stack's two
// test switches, which Terraform never sets, so no deployment to AWS even
// looks at them:
//   - SHOP_FAULTS=1, fault injection (shared/faults: tests make a function
//     fail or slow down on purpose to exercise retries, breakers and
//     compensations);
//   - SHOP_RECORD_AWS_CALLS=1, a log line per AWS call (shared/awscalls),
//     which the end-to-end run checks against the function's policy, since
//     the emulator does not enforce IAM.
func functionEnvironment(prefix string, fn *manifest.Function) map[string]string {
	env := manifest.Environment(prefix, fn)
	env[faults.EnvSwitch] = "1"
	env[awscalls.EnvSwitch] = "1"
	return env
}

// functionParallelism bounds concurrent role+function deployments. Most of
// a function's deploy time is waiting for it to turn Active, so a few at a
// time cut a first deploy to a fraction without flooding the emulator.
const functionParallelism = 8

// ensureFunctions deploys each artifact's role and function, several at a
// time, and returns manifest name -> function ARN. Progress lines come out
// grouped per function in manifest order, whatever order they finish in.
func (d *deployer) ensureFunctions(ctx context.Context, artifacts []*artifact) (map[string]string, error) {
	arnOf := make([]string, len(artifacts))
	errs := make([]error, len(artifacts))
	flush := make([]func(), len(artifacts))
	sem := make(chan struct{}, functionParallelism)
	var wg sync.WaitGroup
	for i, a := range artifacts {
		sub, f := d.p.deferred()
		flush[i] = f
		dd := *d
		dd.p = sub
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			roleARN, err := dd.ensureRole(ctx, a.fn)
			if err != nil {
				errs[i] = err
				return
			}
			arnOf[i], errs[i] = dd.ensureFunction(ctx, a, roleARN)
		}()
	}
	wg.Wait()
	for _, f := range flush {
		f()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	arns := make(map[string]string, len(artifacts))
	for i, a := range artifacts {
		arns[a.fn.Name] = arnOf[i]
	}
	return arns, nil
}

// functionConfig is the part of a function's configuration the manifest
// decides; configDiff compares it field by field.
type functionConfig struct {
	Role     string
	Runtime  string
	Handler  string
	MemoryMB int32
	Timeout  int32
	Env      map[string]string
}

// configDiff names the fields of have that differ from want, in a fixed
// order; empty means no UpdateFunctionConfiguration is needed. A nil and an
// empty environment are the same: Lambda reports no Environment at all for
// a function without variables.
func configDiff(want, have functionConfig) []string {
	var diff []string
	if want.Role != have.Role {
		diff = append(diff, "role")
	}
	if want.Runtime != have.Runtime {
		diff = append(diff, "runtime")
	}
	if want.Handler != have.Handler {
		diff = append(diff, "handler")
	}
	if want.MemoryMB != have.MemoryMB {
		diff = append(diff, "memory")
	}
	if want.Timeout != have.Timeout {
		diff = append(diff, "timeout")
	}
	if !maps.Equal(want.Env, have.Env) {
		diff = append(diff, "environment")
	}
	return diff
}

func haveConfig(c *ltypes.FunctionConfiguration) functionConfig {
	fc := functionConfig{
		Role:     aws.ToString(c.Role),
		Runtime:  string(c.Runtime),
		Handler:  aws.ToString(c.Handler),
		MemoryMB: aws.ToInt32(c.MemorySize),
		Timeout:  aws.ToInt32(c.Timeout),
	}
	if c.Environment != nil {
		fc.Env = c.Environment.Variables
	}
	return fc
}

func lambdaArchitecture(goarch string) (ltypes.Architecture, error) {
	switch goarch {
	case "amd64":
		return ltypes.ArchitectureX8664, nil
	case "arm64":
		return ltypes.ArchitectureArm64, nil
	}
	return "", fmt.Errorf("goarch %q: Lambda runs amd64 (x86_64) or arm64 only", goarch)
}

// ensureFunction creates the function or brings it in line with the
// artifact and manifest: new code only when CodeSha256 differs, new
// configuration only when a managed field differs. Returns the function ARN.
func (d *deployer) ensureFunction(ctx context.Context, a *artifact, roleARN string) (string, error) {
	fn := a.fn
	name := naming.Function(d.prefix, fn.Name)
	arch, err := lambdaArchitecture(d.goarch)
	if err != nil {
		return "", err
	}
	want := functionConfig{
		Role:     roleARN,
		Runtime:  string(lambdaRuntime),
		Handler:  lambdaHandler,
		MemoryMB: int32(fn.MemoryMB),
		Timeout:  int32(fn.TimeoutSecs),
		Env:      functionEnvironment(d.prefix, fn),
	}

	got, err := d.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if awserr.HasCode(err, "ResourceNotFoundException") {
		arn, err := d.createFunction(ctx, name, a, want, arch)
		if err != nil {
			return "", err
		}
		d.p.report("function", name, statusCreated)
		return arn, nil
	}
	if err != nil {
		return "", fmt.Errorf("function %s: get: %w", name, err)
	}
	cfg := got.Configuration
	arn := aws.ToString(cfg.FunctionArn)
	status := statusUnchanged

	// The architecture travels with the code: changing it means re-uploading.
	haveArch := cfg.Architectures
	if len(haveArch) == 0 {
		haveArch = []ltypes.Architecture{ltypes.ArchitectureX8664} // Lambda's default when unreported
	}
	if aws.ToString(cfg.CodeSha256) != a.codeSHA || !slices.Equal(haveArch, []ltypes.Architecture{arch}) {
		_, err := d.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName:  &name,
			ZipFile:       a.zip,
			Architectures: []ltypes.Architecture{arch},
		})
		if err != nil {
			return "", fmt.Errorf("function %s: update code: %w", name, err)
		}
		if err := d.waitFunctionReady(ctx, name); err != nil {
			return "", err
		}
		status = statusUpdated
	}
	if diff := configDiff(want, haveConfig(cfg)); len(diff) > 0 {
		_, err := d.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: &name,
			Role:         &want.Role,
			Runtime:      lambdaRuntime,
			Handler:      aws.String(lambdaHandler),
			MemorySize:   aws.Int32(want.MemoryMB),
			Timeout:      aws.Int32(want.Timeout),
			Environment:  &ltypes.Environment{Variables: want.Env},
		})
		if err != nil {
			return "", fmt.Errorf("function %s: update configuration (%s): %w", name, strings.Join(diff, ", "), err)
		}
		if err := d.waitFunctionReady(ctx, name); err != nil {
			return "", err
		}
		status = statusUpdated
	}
	d.p.report("function", name, status)
	return arn, nil
}

func (d *deployer) createFunction(ctx context.Context, name string, a *artifact, want functionConfig, arch ltypes.Architecture) (string, error) {
	in := &lambda.CreateFunctionInput{
		FunctionName:  &name,
		Role:          &want.Role,
		Runtime:       lambdaRuntime,
		Handler:       aws.String(lambdaHandler),
		Architectures: []ltypes.Architecture{arch},
		MemorySize:    aws.Int32(want.MemoryMB),
		Timeout:       aws.Int32(want.Timeout),
		Environment:   &ltypes.Environment{Variables: want.Env},
		Code:          &ltypes.FunctionCode{ZipFile: a.zip},
		Description:   aws.String(a.fn.Description),
	}
	var arn string
	err := poll(ctx, "function "+name+": create", roleWait, time.Second, func(ctx context.Context) (bool, error) {
		out, err := d.lambda.CreateFunction(ctx, in)
		if awserr.HasCode(err, "InvalidParameterValueException") && strings.Contains(err.Error(), "cannot be assumed") {
			return false, nil // the new role has not propagated yet
		}
		if awserr.HasCode(err, "ResourceConflictException") {
			// Our own create, retried after a lost response (retried.go).
			got, gerr := d.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
			if gerr != nil {
				return false, fmt.Errorf("%w; get: %w", err, gerr)
			}
			arn = aws.ToString(got.Configuration.FunctionArn)
			return true, nil
		}
		if err != nil {
			return false, err
		}
		arn = aws.ToString(out.FunctionArn)
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return arn, d.waitFunctionReady(ctx, name)
}

// waitFunctionReady waits for State Active and LastUpdateStatus Successful,
// as the SDK's waiters would, but treats an emulator that reports neither as
// ready instead of waiting forever for a state it never sets.
func (d *deployer) waitFunctionReady(ctx context.Context, name string) error {
	return poll(ctx, "function "+name, functionWait, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := d.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &name})
		if err != nil {
			return false, err
		}
		if c.State == ltypes.StateFailed || c.LastUpdateStatus == ltypes.LastUpdateStatusFailed {
			return false, fmt.Errorf("failed: %s %s", aws.ToString(c.StateReason), aws.ToString(c.LastUpdateStatusReason))
		}
		stateOK := c.State == "" || c.State == ltypes.StateActive
		updateOK := c.LastUpdateStatus == "" || c.LastUpdateStatus == ltypes.LastUpdateStatusSuccessful
		return stateOK && updateOK, nil
	})
}
