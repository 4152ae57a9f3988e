package servicetoken

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

// fakeSSM is an in-memory SSM Parameter Store with the error shapes and
// version numbers of the real one.
type fakeSSM struct {
	mu        sync.Mutex
	params    map[string]*ssmtypes.Parameter
	gets      int
	getErr    error
	history   map[string][]string // every version's value, for name:version selectors
	beforePut func()              // runs before a put, to simulate a concurrent writer
	retries   int                 // the next put is applied 1+retries times, as SDK retries do
}

func newFakeSSM() *fakeSSM {
	return &fakeSSM{params: map[string]*ssmtypes.Parameter{}, history: map[string][]string{}}
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.getErr != nil {
		return nil, f.getErr
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

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	if f.beforePut != nil {
		hook := f.beforePut
		f.beforePut = nil
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
	for range 1 + f.retries {
		p.Version++
		p.Value = in.Value
		f.history[name] = append(f.history[name], aws.ToString(in.Value))
	}
	f.retries = 0
	return &ssm.PutParameterOutput{Version: p.Version, Tier: in.Tier}, nil
}

// set writes a parameter directly, as another tool would.
func (f *fakeSSM) set(name, value string) {
	_, _ = f.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Overwrite: aws.Bool(true)})
}

func (f *fakeSSM) value(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.params[name]; ok {
		return aws.ToString(p.Value)
	}
	return ""
}

func (f *fakeSSM) getCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// fakeSecrets is an in-memory Secrets Manager. A secret may exist without
// a value, as one created by Terraform without a version does.
type fakeSecrets struct {
	mu            sync.Mutex
	secrets       map[string]*string
	puts          int
	createRetried bool // CreateSecret applies, then answers as its SDK retry would
}

func newFakeSecrets() *fakeSecrets { return &fakeSecrets{secrets: map[string]*string{}} }

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.secrets[aws.ToString(in.SecretId)]
	if !ok || v == nil {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: aws.String(*v)}, nil
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
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

func (f *fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Name)
	if _, ok := f.secrets[name]; ok {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("already exists")}
	}
	f.secrets[name] = in.SecretString
	if f.createRetried {
		// The first attempt's response was lost; the retry finds it done.
		return nil, &smtypes.ResourceExistsException{Message: aws.String("already exists")}
	}
	return &secretsmanager.CreateSecretOutput{Name: in.Name}, nil
}

func (f *fakeSecrets) value(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return aws.ToString(f.secrets[name])
}
