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
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/faults"
)

// traceDaemonVariable is where the X-Ray SDKs (and shared/tracing) look for
// the daemon to send segments to.
const traceDaemonVariable = "AWS_XRAY_DAEMON_ADDRESS"

const (
	functionWait = time.Minute
	// roleWait bounds the retries of CreateFunction while IAM propagates a
	// new role (AWS answers "cannot be assumed" for a few seconds).
	roleWait = 30 * time.Second
)

// functionEnvironment is the model's environment, its bindings filled in
// from bindings, plus the local
// stack's two test switches, which Terraform never sets, so no deployment
// to AWS even looks at them:
//   - SHOP_FAULTS=1, fault injection (shared/faults: tests make a function
//     fail or slow down on purpose to exercise retries, breakers and
//     compensations);
//   - SHOP_RECORD_AWS_CALLS=1, a log line per AWS call (shared/awscalls),
//     which the end-to-end run checks against the function's policy, since
//     the emulator does not enforce IAM;
//
// and AWS_XRAY_DAEMON_ADDRESS, the local trace collector's address: on AWS
// Lambda sets it to its own daemon, so neither the model nor Terraform
// names it; the emulator sets none, and the SDK's default (127.0.0.1:2000)
// would be every stack's at once.
func functionEnvironment(fn *deployment.Function, bindings bindingValues) (map[string]string, error) {
	env := maps.Clone(fn.Environment)
	if env == nil {
		env = map[string]string{}
	}
	for _, variable := range slices.Sorted(maps.Keys(fn.Bindings)) {
		binding := fn.Bindings[variable]
		value, ok := bindings.value(fn, binding)
		if !ok {
			return nil, fmt.Errorf("function %s: %s: the local stack has no value for binding %q", fn.FunctionName, variable, binding)
		}
		env[variable] = value
	}
	env[faults.EnvSwitch] = "1"
	env[awscalls.EnvSwitch] = "1"
	if bindings.traceDaemon != "" {
		env[traceDaemonVariable] = bindings.traceDaemon
	}
	return env, nil
}

// functionParallelism bounds concurrent role+function deployments. Most of
// a function's deploy time is waiting for it to turn Active, so a few at a
// time cut a first deploy to a fraction without flooding the emulator.
const functionParallelism = 8

// ensureFunctions deploys each model function's role, log group and
// function, several at a time, and returns manifest name -> function ARN.
// Progress lines come out grouped per function in model order, whatever
// order they finish in.
func (d *deployer) ensureFunctions(ctx context.Context, artifacts []*artifact) (map[string]string, error) {
	fns := d.model.Functions
	byName := make(map[string]*artifact, len(artifacts))
	for _, a := range artifacts {
		byName[a.fn.Name] = a
	}
	for _, fn := range fns {
		if byName[fn.Name] == nil {
			return nil, fmt.Errorf("function %s: no artifact built", fn.FunctionName)
		}
	}
	arnOf := make([]string, len(fns))
	errs := make([]error, len(fns))
	flush := make([]func(), len(fns))
	sem := make(chan struct{}, functionParallelism)
	var wg sync.WaitGroup
	for i := range fns {
		fn := &fns[i]
		a := byName[fn.Name]
		sub, f := d.p.deferred()
		flush[i] = f
		dd := *d
		dd.p = sub
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			roleARN, err := dd.ensureRole(ctx, fn.Role)
			if err != nil {
				errs[i] = err
				return
			}
			if _, err := dd.ensureLogGroup(ctx, fn.LogGroup, int32(d.model.Settings.LogRetentionDays)); err != nil {
				errs[i] = err
				return
			}
			arnOf[i], errs[i] = dd.ensureFunction(ctx, fn, a, roleARN)
		})
	}
	wg.Wait()
	for _, f := range flush {
		f()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	arns := make(map[string]string, len(fns))
	for i, fn := range fns {
		arns[fn.Name] = arnOf[i]
	}
	return arns, nil
}

// functionConfig is the part of a function's configuration the model
// decides; configDiff compares it field by field.
type functionConfig struct {
	Role        string
	Runtime     string
	Handler     string
	Description string
	MemoryMB    int32
	Timeout     int32
	Tracing     string
	LogFormat   string
	LogGroup    string
	Env         map[string]string
}

// wantConfig is the configuration of fn, run by roleARN, on the local stack
// whose bindings have the values bindings holds.
func wantConfig(fn *deployment.Function, roleARN string, bindings bindingValues) (functionConfig, error) {
	env, err := functionEnvironment(fn, bindings)
	if err != nil {
		return functionConfig{}, err
	}
	return functionConfig{
		Role:        roleARN,
		Runtime:     fn.Runtime,
		Handler:     fn.Handler,
		Description: fn.Description,
		MemoryMB:    int32(fn.MemoryMB),
		Timeout:     int32(fn.TimeoutSecs),
		Tracing:     fn.Tracing,
		LogFormat:   fn.LogFormat,
		LogGroup:    fn.LogGroup,
		Env:         env,
	}, nil
}

// configDiff names the fields of have that differ from want, in a fixed
// order; empty means no UpdateFunctionConfiguration is needed. A nil and an
// empty environment are the same: Lambda reports no Environment at all for
// a function without variables.
func configDiff(want, have functionConfig) []string {
	var diff []string
	for _, f := range []struct {
		name       string
		want, have any
	}{
		{"role", want.Role, have.Role},
		{"runtime", want.Runtime, have.Runtime},
		{"handler", want.Handler, have.Handler},
		{"description", want.Description, have.Description},
		{"memory", want.MemoryMB, have.MemoryMB},
		{"timeout", want.Timeout, have.Timeout},
		{"tracing", want.Tracing, have.Tracing},
		{"log format", want.LogFormat, have.LogFormat},
		{"log group", want.LogGroup, have.LogGroup},
	} {
		if f.want != f.have {
			diff = append(diff, f.name)
		}
	}
	if !maps.Equal(want.Env, have.Env) {
		diff = append(diff, "environment")
	}
	return diff
}

func haveConfig(c *ltypes.FunctionConfiguration) functionConfig {
	fc := functionConfig{
		Role:        aws.ToString(c.Role),
		Runtime:     string(c.Runtime),
		Handler:     aws.ToString(c.Handler),
		Description: aws.ToString(c.Description),
		MemoryMB:    aws.ToInt32(c.MemorySize),
		Timeout:     aws.ToInt32(c.Timeout),
	}
	if c.TracingConfig != nil {
		fc.Tracing = string(c.TracingConfig.Mode)
	}
	if c.LoggingConfig != nil {
		fc.LogFormat = string(c.LoggingConfig.LogFormat)
		fc.LogGroup = aws.ToString(c.LoggingConfig.LogGroup)
	}
	if c.Environment != nil {
		fc.Env = c.Environment.Variables
	}
	return fc
}

// The configuration calls' shared fields, from a functionConfig.
func (c functionConfig) tracingConfig() *ltypes.TracingConfig {
	return &ltypes.TracingConfig{Mode: ltypes.TracingMode(c.Tracing)}
}

func (c functionConfig) loggingConfig() *ltypes.LoggingConfig {
	return &ltypes.LoggingConfig{LogFormat: ltypes.LogFormat(c.LogFormat), LogGroup: aws.String(c.LogGroup)}
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
// artifact and the model: new code only when CodeSha256 differs, new
// configuration only when a managed field differs. Returns the function ARN.
func (d *deployer) ensureFunction(ctx context.Context, fn *deployment.Function, a *artifact, roleARN string) (string, error) {
	name := fn.FunctionName
	arch, err := lambdaArchitecture(d.goarch)
	if err != nil {
		return "", err
	}
	want, err := wantConfig(fn, roleARN, d.bindings)
	if err != nil {
		return "", err
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
			FunctionName:  &name,
			Role:          &want.Role,
			Runtime:       ltypes.Runtime(want.Runtime),
			Handler:       &want.Handler,
			Description:   &want.Description,
			MemorySize:    &want.MemoryMB,
			Timeout:       &want.Timeout,
			TracingConfig: want.tracingConfig(),
			LoggingConfig: want.loggingConfig(),
			Environment:   &ltypes.Environment{Variables: want.Env},
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
		Runtime:       ltypes.Runtime(want.Runtime),
		Handler:       &want.Handler,
		Description:   &want.Description,
		Architectures: []ltypes.Architecture{arch},
		MemorySize:    &want.MemoryMB,
		Timeout:       &want.Timeout,
		TracingConfig: want.tracingConfig(),
		LoggingConfig: want.loggingConfig(),
		Environment:   &ltypes.Environment{Variables: want.Env},
		Code:          &ltypes.FunctionCode{ZipFile: a.zip},
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
