package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

const tableWait = 2 * time.Minute

// ensureTable creates the service's table as service.yaml describes it, or,
// for an existing table, adds the indexes, TTL and stream it lacks. Key
// schemas cannot change in place: a mismatch is an error, since the code
// would then read a table shaped differently from what it was written for.
func (d *deployer) ensureTable(ctx context.Context, svc *manifest.Service) error {
	name := naming.Table(d.prefix, svc.Name)
	t := svc.Table
	out, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if awserr.HasCode(err, "ResourceNotFoundException") {
		if err := d.createTable(ctx, name, t); err != nil {
			return err
		}
		if _, err := d.ensureTTL(ctx, name, t.TTL); err != nil {
			return err
		}
		d.p.report("table", name, statusCreated)
		return nil
	}
	if err != nil {
		return fmt.Errorf("table %s: describe: %w", name, err)
	}
	have := out.Table
	spec := t.CreateTableInput(name) // the one translation of service.yaml, shared with the tests
	if got, want := keySchemaString(have.KeySchema), keySchemaString(spec.KeySchema); got != want {
		return fmt.Errorf("table %s: key schema is %s, service.yaml wants %s; a key change needs a new table (restart the emulator for a clean slate)", name, got, want)
	}

	changed := false
	for _, ix := range missingIndexes(t.Indexes, have.GlobalSecondaryIndexes) {
		if err := d.addIndex(ctx, name, spec, ix); err != nil {
			return err
		}
		changed = true
	}
	if t.Stream != "" && !streamMatches(have.StreamSpecification, t.Stream) {
		_, err := d.ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:           &name,
			StreamSpecification: spec.StreamSpecification,
		})
		if err != nil {
			return fmt.Errorf("table %s: enable stream %s: %w", name, t.Stream, err)
		}
		if err := d.waitTableActive(ctx, name, ""); err != nil {
			return err
		}
		changed = true
	}
	ttlChanged, err := d.ensureTTL(ctx, name, t.TTL)
	if err != nil {
		return err
	}
	changed = changed || ttlChanged
	d.p.report("table", name, changedStatus(changed))
	return nil
}

func changedStatus(changed bool) string {
	if changed {
		return statusUpdated
	}
	return statusUnchanged
}

func (d *deployer) createTable(ctx context.Context, name string, t manifest.Table) error {
	// In use: our own create, retried after a lost response (retried.go).
	if _, err := d.ddb.CreateTable(ctx, t.CreateTableInput(name)); err != nil && !awserr.HasCode(err, "ResourceInUseException") {
		return fmt.Errorf("table %s: create: %w", name, err)
	}
	return d.waitTableActive(ctx, name, "")
}

// addIndex creates one GSI; DynamoDB accepts a single index creation per
// UpdateTable call.
func (d *deployer) addIndex(ctx context.Context, name string, spec *dynamodb.CreateTableInput, ix manifest.Index) error {
	var g types.GlobalSecondaryIndex
	for _, candidate := range spec.GlobalSecondaryIndexes {
		if aws.ToString(candidate.IndexName) == ix.Name {
			g = candidate
		}
	}
	_, err := d.ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            &name,
		AttributeDefinitions: spec.AttributeDefinitions,
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName:  g.IndexName,
			KeySchema:  g.KeySchema,
			Projection: g.Projection,
		}}},
	})
	if err != nil {
		return fmt.Errorf("table %s: add index %s: %w", name, ix.Name, err)
	}
	return d.waitTableActive(ctx, name, ix.Name)
}

// waitTableActive waits until the table, and the index if one is named, is
// ACTIVE.
func (d *deployer) waitTableActive(ctx context.Context, name, index string) error {
	what := "table " + name
	if index != "" {
		what += " index " + index
	}
	return poll(ctx, what, tableWait, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return false, err
		}
		if out.Table.TableStatus != types.TableStatusActive {
			return false, nil
		}
		for _, g := range out.Table.GlobalSecondaryIndexes {
			if index == "" || aws.ToString(g.IndexName) == index {
				if g.IndexStatus != "" && g.IndexStatus != types.IndexStatusActive {
					return false, nil
				}
			}
		}
		return true, nil
	})
}

// ensureTTL enables TTL on attr (when the manifest declares one) and
// reports whether it changed anything. TTL is never switched off here: on
// AWS that blocks TTL changes for an hour, too high a price for a local run.
func (d *deployer) ensureTTL(ctx context.Context, name, attr string) (bool, error) {
	if attr == "" {
		return false, nil
	}
	out, err := d.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	if err != nil {
		return false, fmt.Errorf("table %s: describe TTL: %w", name, err)
	}
	if on := ttlAttribute(out.TimeToLiveDescription); on != "" {
		if on == attr {
			return false, nil
		}
		return false, fmt.Errorf("table %s: TTL is on attribute %q, service.yaml wants %q; restart the emulator for a clean slate",
			name, on, attr)
	}
	_, err = d.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &name,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: &attr, Enabled: aws.Bool(true)},
	})
	if err != nil {
		// "Already enabled" is our own call, retried after a lost response
		// (retried.go): look again before calling it a failure.
		if again, derr := d.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name}); derr == nil && ttlAttribute(again.TimeToLiveDescription) == attr {
			return true, nil
		}
		return false, fmt.Errorf("table %s: enable TTL on %s: %w", name, attr, err)
	}
	return true, nil
}

// ttlAttribute is the attribute TTL is on (or turning on) for, or "" when
// it is off.
func ttlAttribute(desc *types.TimeToLiveDescription) string {
	if desc == nil || desc.TimeToLiveStatus != types.TimeToLiveStatusEnabled && desc.TimeToLiveStatus != types.TimeToLiveStatusEnabling {
		return ""
	}
	return aws.ToString(desc.AttributeName)
}

func keySchemaString(ks []types.KeySchemaElement) string {
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("[%s %s]", aws.ToString(k.AttributeName), k.KeyType)
	}
	return s
}

// missingIndexes are the declared indexes the table does not have (by name).
func missingIndexes(want []manifest.Index, have []types.GlobalSecondaryIndexDescription) []manifest.Index {
	present := map[string]bool{}
	for _, g := range have {
		present[aws.ToString(g.IndexName)] = true
	}
	var missing []manifest.Index
	for _, ix := range want {
		if !present[ix.Name] {
			missing = append(missing, ix)
		}
	}
	return missing
}

func streamMatches(have *types.StreamSpecification, view string) bool {
	return have != nil && aws.ToBool(have.StreamEnabled) && string(have.StreamViewType) == view
}
