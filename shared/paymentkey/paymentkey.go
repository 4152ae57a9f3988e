// Package paymentkey reads the payment provider's API key from the secret
// that holds its credentials (deployment.PaymentProvider: JSON
// {"apiKey": "..."}), the one format both sides of that hop agree on: the
// payments steps send the key, and the provider's simulator checks it.
//
//	key := paymentkey.New(func() paymentkey.SecretReader { return secretsmanager.NewFromConfig(cfg) }, secretName)
//	tok, err := key.Token(ctx) // a client.TokenSource
package paymentkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretReader is the part of Secrets Manager the key needs.
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Source is the API key, read on first use and kept for the life of the
// process. A failed read is not kept: the next call tries again. The reader
// is made on first use too, so a cold start pays for none of it.
type Source struct {
	newReader func() SecretReader
	name      string

	mu     sync.Mutex
	reader SecretReader
	key    string
}

// New returns the key held in the secret named name.
func New(newReader func() SecretReader, name string) *Source {
	return &Source{newReader: newReader, name: name}
}

// credentials is the secret's value.
type credentials struct {
	APIKey string `json:"apiKey"`
}

// SecretValue is the secret's value holding apiKey: what whoever creates
// the secret (the local deployer, for the simulator) writes.
func SecretValue(apiKey string) string {
	b, _ := json.Marshal(credentials{APIKey: apiKey}) // cannot fail: one string
	return string(b)
}

// Token returns the key (it implements client.TokenSource).
func (k *Source) Token(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != "" {
		return k.key, nil
	}
	if k.reader == nil {
		k.reader = k.newReader()
	}
	out, err := k.reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(k.name)})
	if err != nil {
		return "", fmt.Errorf("read the payment provider secret: %w", err)
	}
	var v credentials
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.APIKey == "" {
		return "", errors.New("the payment provider secret is not JSON with a non-empty apiKey")
	}
	k.key = v.APIKey
	return k.key, nil
}
