package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretReader is the part of Secrets Manager the API key needs.
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretAPIKey reads the API key from the secret named name (JSON
// {"apiKey":"…"}) on first use, and keeps it for the life of the process.
// A failed read is not kept: the next request tries again. The reader is
// made on first use too (newReader), so a cold start pays for none of it.
func SecretAPIKey(newReader func() SecretReader, name string) APIKey {
	var (
		mu     sync.Mutex
		reader SecretReader
		key    string
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if key != "" {
			return key, nil
		}
		if reader == nil {
			reader = newReader()
		}
		out, err := reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("read the payment provider secret: %w", err)
		}
		var v struct {
			APIKey string `json:"apiKey"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.APIKey == "" {
			return "", errors.New("the payment provider secret is not JSON with a non-empty apiKey")
		}
		key = v.APIKey
		return key, nil
	}
}

// Config is the simulator's own setting, beside config.Function.
type Config struct {
	// Secret names the Secrets Manager secret holding the API key.
	Secret string `env:"SHOP_PAYMENT_PROVIDER_SECRET,required"`
}
