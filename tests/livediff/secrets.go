package livediff

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// readSecrets reads the stack's secrets (<prefix>/signing/<issuer>): names
// and settings, never a value.
func readSecrets(ctx context.Context, sn *snapshot) error {
	secrets := map[string]Secret{}
	p := secretsmanager.NewListSecretsPaginator(sn.sm, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list secrets: %w", err)
		}
		for _, s := range out.SecretList {
			name := aws.ToString(s.Name)
			if !sn.n.owns(name) {
				continue
			}
			sec := Secret{
				Description: aws.ToString(s.Description),
				Encrypted:   aws.ToString(s.KmsKeyId) != "",
				KMSKey:      aws.ToString(s.KmsKeyId),
				Rotation:    aws.ToBool(s.RotationEnabled),
			}
			for _, t := range s.Tags {
				if sec.Tags == nil {
					sec.Tags = map[string]string{}
				}
				sec.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			secrets[name] = sec
		}
	}
	sn.s.Secrets = secrets
	return nil
}

// readParameters reads the stack's SSM parameters (/<prefix>/jwks) among
// those discover listed: names and settings, never a value.
func readParameters(_ context.Context, sn *snapshot) error {
	params := map[string]Parameter{}
	for _, p := range sn.allParameters {
		name := aws.ToString(p.Name)
		if !sn.n.ownsPath(name) {
			continue
		}
		params[name] = Parameter{
			Type:        string(p.Type),
			DataType:    aws.ToString(p.DataType),
			Tier:        string(p.Tier),
			Description: aws.ToString(p.Description),
		}
	}
	sn.s.Parameters = params
	return nil
}
