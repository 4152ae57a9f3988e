// Package awstest holds what the tests of servicetoken's AWS subpackages
// (ssmkeys, jwksstore, keystore) share: in-memory fakes of SSM and Secrets
// Manager with the error shapes of the real ones, the emulator clients of
// the integration tests, and the issuers' policies and JWK Sets those hold.
// Tests only: no production package imports it.
package awstest

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM is an in-memory SSM Parameter Store with the error shapes and
// version numbers of the real one.
type SSM struct {
	GetErr    error  // every GetParameter fails with it when set
	BeforePut func() // runs before the next put, to simulate a concurrent writer
	Retries   int    // the next put is applied 1+Retries times, as SDK retries do

	mu      sync.Mutex
	params  map[string]*ssmtypes.Parameter
	gets    int
	history map[string][]string // every version's value, for name:version selectors
}

// NewSSM returns an SSM with no parameters.
func NewSSM() *SSM {
	return &SSM{params: map[string]*ssmtypes.Parameter{}, history: map[string][]string{}}
}

// GetParameter reads a parameter or, as name:version, one of its versions.
func (f *SSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.GetErr != nil {
		return nil, f.GetErr
	}
	name, selector, _ := strings.Cut(aws.ToString(in.Name), ":")
	p, ok := f.params[name]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	}
	if selector != "" {
		v, err := strconv.Atoi(selector)
		if err != nil || v < 1 || v > len(f.history[name]) {
			return nil, &ssmtypes.ParameterVersionNotFound{Message: aws.String("no version " + selector)}
		}
		return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: p.Name, Version: int64(v), Value: aws.String(f.history[name][v-1])}}, nil
	}
	cp := *p
	return &ssm.GetParameterOutput{Parameter: &cp}, nil
}

// ReadParameter is GetParameter as ssmkeys.ParameterReader: the verifier
// side's one call.
func (f *SSM) ReadParameter(ctx context.Context, name string) (string, error) {
	out, err := f.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Parameter.Value), nil
}

// PutParameter writes a new version.
func (f *SSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	if f.BeforePut != nil {
		hook := f.BeforePut
		f.BeforePut = nil
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Name)
	p, ok := f.params[name]
	if ok && !aws.ToBool(in.Overwrite) {
		return nil, &ssmtypes.ParameterAlreadyExists{Message: aws.String("exists")}
	}
	if !ok {
		p = &ssmtypes.Parameter{Name: in.Name, Type: in.Type}
		f.params[name] = p
	}
	for range 1 + f.Retries {
		p.Version++
		p.Value = in.Value
		f.history[name] = append(f.history[name], aws.ToString(in.Value))
	}
	f.Retries = 0
	return &ssm.PutParameterOutput{Version: p.Version, Tier: in.Tier}, nil
}

// Set writes a parameter directly, as another tool would.
func (f *SSM) Set(name, value string) {
	_, _ = f.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Overwrite: aws.Bool(true)})
}

// Value is the parameter's current value ("" when there is none).
func (f *SSM) Value(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.params[name]; ok {
		return aws.ToString(p.Value)
	}
	return ""
}

// GetCount is how many GetParameter calls were made.
func (f *SSM) GetCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// Secrets is an in-memory Secrets Manager. A secret may exist without
// a value, as one created by Terraform without a version does.
type Secrets struct {
	CreateRetried bool // CreateSecret applies, then answers as its SDK retry would

	mu      sync.Mutex
	secrets map[string]*string
	puts    int
	gets    int
	getErr  error
}

// FailGets makes every GetSecretValue fail with err (nil: succeed again).
func (f *Secrets) FailGets(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getErr = err
}

// Gets is how many GetSecretValue calls were made.
func (f *Secrets) Gets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// NewSecrets returns a Secrets Manager with no secrets.
func NewSecrets() *Secrets { return &Secrets{secrets: map[string]*string{}} }

// GetSecretValue reads a secret's current value.
func (f *Secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.getErr != nil {
		return nil, f.getErr
	}
	v, ok := f.secrets[aws.ToString(in.SecretId)]
	if !ok || v == nil {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: aws.String(*v)}, nil
}

// PutSecretValue writes a new value to an existing secret.
func (f *Secrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.SecretId)
	if _, ok := f.secrets[name]; !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	f.secrets[name] = aws.String(aws.ToString(in.SecretString))
	f.puts++
	return &secretsmanager.PutSecretValueOutput{Name: in.SecretId}, nil
}

// CreateSecret creates a secret, with or without a value.
func (f *Secrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Name)
	if _, ok := f.secrets[name]; ok {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("already exists")}
	}
	f.secrets[name] = in.SecretString
	if f.CreateRetried {
		// The first attempt's response was lost; the retry finds it done.
		return nil, &smtypes.ResourceExistsException{Message: aws.String("already exists")}
	}
	return &secretsmanager.CreateSecretOutput{Name: in.Name}, nil
}

// Value is the secret's value ("" when it has none).
func (f *Secrets) Value(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return aws.ToString(f.secrets[name])
}

// Version is the parameter's current version (0 when there is none).
func (f *SSM) Version(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.params[name]; ok {
		return p.Version
	}
	return 0
}

// SetRaw sets a secret directly; nil makes a secret without a value, as
// Terraform leaves one.
func (f *Secrets) SetRaw(name string, value *string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = value
}

// Puts is how many PutSecretValue calls succeeded.
func (f *Secrets) Puts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts
}
