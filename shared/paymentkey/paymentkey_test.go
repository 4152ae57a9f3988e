package paymentkey

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type fakeSecrets struct {
	value string
	err   error
	reads int
}

func (f *fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func TestReadsOnceAndRetriesAFailure(t *testing.T) {
	f := &fakeSecrets{err: errors.New("throttled")}
	made := 0
	k := New(func() SecretReader { made++; return f }, "shop/payment-provider")
	if made != 0 {
		t.Fatal("the reader was made before the first use")
	}
	if _, err := k.Token(context.Background()); err == nil {
		t.Fatal("a failed read gave a key")
	}
	f.err, f.value = nil, `{"apiKey":"sk_test_1"}`
	for range 3 {
		if key, err := k.Token(context.Background()); err != nil || key != "sk_test_1" {
			t.Fatalf("Token = %q, %v", key, err)
		}
	}
	if f.reads != 2 || made != 1 {
		t.Fatalf("%d reads with %d readers, want 2 reads (the failure, then one) with 1 reader", f.reads, made)
	}
}

func TestRefusesAMalformedSecret(t *testing.T) {
	for _, v := range []string{`sk_test_1`, `{"apiKey":""}`, `{"key":"x"}`} {
		k := New(func() SecretReader { return &fakeSecrets{value: v} }, "s")
		if _, err := k.Token(context.Background()); err == nil {
			t.Errorf("secret %s gave a key", v)
		}
	}
}

// What the deployer writes is what the functions read.
func TestSecretValueRoundTrips(t *testing.T) {
	k := New(func() SecretReader { return &fakeSecrets{value: SecretValue(`sk_"quoted"`)} }, "s")
	if key, err := k.Token(context.Background()); err != nil || key != `sk_"quoted"` {
		t.Fatalf("Token = %q, %v", key, err)
	}
}
