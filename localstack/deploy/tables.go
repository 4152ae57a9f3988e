package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

const tableWait = 2 * time.Minute

// ensureTable creates the model's table, or, for an existing table, adds
// the indexes, TTL and stream it lacks; either way it brings encryption,
// point-in-time recovery and deletion protection to what the model's
// settings say (tableSettings). Key schemas cannot change in place: a
// mismatch is an error, since the code would then read a table shaped
// differently from what it was written for.
func (d *deployer) ensureTable(ctx context.Context, t deployment.Table) error {
	name := t.Name
	spec := createTableInput(t)
	want := wantTableSettings(d.model.Settings)
	out, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if awserr.HasCode(err, "ResourceNotFoundException") {
		create := *spec
		create.SSESpecification = want.sseSpecification()
		create.DeletionProtectionEnabled = aws.Bool(want.DeletionProtection)
		// In use: our own create, retried after a lost response (retried.go).
		if _, err := d.ddb.CreateTable(ctx, &create); err != nil && !awserr.HasCode(err, "ResourceInUseException") {
			return fmt.Errorf("table %s: create: %w", name, err)
		}
		if err := d.waitTableActive(ctx, name, ""); err != nil {
			return err
		}
		if _, err := d.ensureTTL(ctx, name, t.TTL); err != nil {
			return err
		}
		if _, err := d.ensureTableSettings(ctx, name, want); err != nil {
			return err
		}
		d.p.report("table", name, statusCreated)
		return nil
	}
	if err != nil {
		return fmt.Errorf("table %s: describe: %w", name, err)
	}
	have := out.Table
	if got, want := keySchemaString(have.KeySchema), keySchemaString(spec.KeySchema); got != want {
		return fmt.Errorf("table %s: key schema is %s, the model (service.yaml) wants %s; a key change needs a new table (restart the emulator for a clean slate)", name, got, want)
	}

	changed := false
	for _, ix := range missingIndexes(spec.GlobalSecondaryIndexes, have.GlobalSecondaryIndexes) {
		if err := d.addIndex(ctx, name, spec.AttributeDefinitions, ix); err != nil {
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
	settingsChanged, err := d.ensureTableSettings(ctx, name, want)
	if err != nil {
		return err
	}
	changed = changed || settingsChanged
	d.p.report("table", name, changedStatus(changed))
	return nil
}

// tableSettings are a table's settings beyond its shape.
type tableSettings struct {
	// Encrypted: server-side encryption with the AWS-managed KMS key
	// (aws/dynamodb), not the AWS-owned default: SSEType KMS without a key
	// of the stack's, which is what Terraform's server_side_encryption
	// { enabled = true } makes too.
	Encrypted           bool
	PointInTimeRecovery bool
	DeletionProtection  bool
}

// wantTableSettings are the model's settings on the local stack. Deletion
// protection is off: it is an AWS-only safety the operator chooses
// (Terraform's table_deletion_protection), and a local stack is thrown
// away.
func wantTableSettings(s deployment.Settings) tableSettings {
	return tableSettings{Encrypted: s.ServerSideEncryption, PointInTimeRecovery: s.PointInTimeRecovery}
}

// haveTableSettings reads a table's settings from DescribeTable and
// DescribeContinuousBackups. Encryption turning on counts as on, as
// Terraform reads it.
func haveTableSettings(t *types.TableDescription, backups *types.ContinuousBackupsDescription) tableSettings {
	var have tableSettings
	if sse := t.SSEDescription; sse != nil && sse.SSEType == types.SSETypeKms {
		have.Encrypted = sse.Status == types.SSEStatusEnabled || sse.Status == types.SSEStatusEnabling || sse.Status == types.SSEStatusUpdating
	}
	if backups != nil && backups.PointInTimeRecoveryDescription != nil {
		have.PointInTimeRecovery = backups.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled
	}
	have.DeletionProtection = aws.ToBool(t.DeletionProtectionEnabled)
	return have
}

// sseSpecification asks for the AWS-managed key, or for the AWS-owned
// default when encryption is off.
func (s tableSettings) sseSpecification() *types.SSESpecification {
	if !s.Encrypted {
		return &types.SSESpecification{Enabled: aws.Bool(false)}
	}
	return &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms}
}

// ensureTableSettings brings the table's encryption, point-in-time
// recovery and deletion protection to want, one call each where they
// differ, and reports whether it changed anything. Each call is checked
// against a fresh read when it fails: a retry after a lost response
// (retried.go) may be refused for asking what is already so.
func (d *deployer) ensureTableSettings(ctx context.Context, name string, want tableSettings) (bool, error) {
	read := func(ctx context.Context) (tableSettings, error) {
		t, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return tableSettings{}, fmt.Errorf("table %s: describe: %w", name, err)
		}
		b, err := d.ddb.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: &name})
		if err != nil {
			return tableSettings{}, fmt.Errorf("table %s: describe continuous backups: %w", name, err)
		}
		return haveTableSettings(t.Table, b.ContinuousBackupsDescription), nil
	}
	have, err := read(ctx)
	if err != nil {
		return false, err
	}
	changed := false
	apply := func(what string, differs func(tableSettings) bool, call func() error) error {
		if !differs(have) {
			return nil
		}
		if err := call(); err != nil {
			if again, rerr := read(ctx); rerr != nil || differs(again) {
				return fmt.Errorf("table %s: %s: %w", name, what, err)
			}
		}
		changed = true
		return d.waitTableActive(ctx, name, "")
	}
	err = apply("set encryption", func(h tableSettings) bool { return h.Encrypted != want.Encrypted }, func() error {
		_, err := d.ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &name, SSESpecification: want.sseSpecification()})
		return err
	})
	if err != nil {
		return false, err
	}
	err = apply("set deletion protection", func(h tableSettings) bool { return h.DeletionProtection != want.DeletionProtection }, func() error {
		_, err := d.ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &name, DeletionProtectionEnabled: aws.Bool(want.DeletionProtection)})
		return err
	})
	if err != nil {
		return false, err
	}
	err = apply("set point-in-time recovery", func(h tableSettings) bool { return h.PointInTimeRecovery != want.PointInTimeRecovery }, func() error {
		return d.updatePointInTimeRecovery(ctx, name, want.PointInTimeRecovery)
	})
	return changed, err
}

// updatePointInTimeRecovery switches point-in-time recovery, waiting out
// the minutes after a table's creation in which AWS answers
// ContinuousBackupsUnavailableException.
func (d *deployer) updatePointInTimeRecovery(ctx context.Context, name string, on bool) error {
	return poll(ctx, "table "+name+": point-in-time recovery", tableWait, time.Second, func(ctx context.Context) (bool, error) {
		_, err := d.ddb.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
			TableName:                        &name,
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(on)},
		})
		if awserr.HasCode(err, "ContinuousBackupsUnavailableException") {
			return false, nil
		}
		return err == nil, err
	})
}

// createTableInput is the CreateTable call of a model table, billed on
// demand. TTL is a call of its own (ensureTTL).
func createTableInput(t deployment.Table) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(t.Name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.PartitionKey, t.SortKey),
	}
	for _, a := range t.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.Name), AttributeType: types.ScalarAttributeType(a.Type),
		})
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionType(ix.Projection)},
		})
	}
	if t.Stream != "" {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.Stream)}
	}
	return in
}

func keySchema(partitionKey, sortKey string) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{{AttributeName: aws.String(partitionKey), KeyType: types.KeyTypeHash}}
	if sortKey != "" {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sortKey), KeyType: types.KeyTypeRange})
	}
	return ks
}

func changedStatus(changed bool) string {
	if changed {
		return statusUpdated
	}
	return statusUnchanged
}

// addIndex creates one GSI; DynamoDB accepts a single index creation per
// UpdateTable call.
func (d *deployer) addIndex(ctx context.Context, name string, attrs []types.AttributeDefinition, ix types.GlobalSecondaryIndex) error {
	_, err := d.ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            &name,
		AttributeDefinitions: attrs,
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName:  ix.IndexName,
			KeySchema:  ix.KeySchema,
			Projection: ix.Projection,
		}}},
	})
	if err != nil {
		return fmt.Errorf("table %s: add index %s: %w", name, aws.ToString(ix.IndexName), err)
	}
	return d.waitTableActive(ctx, name, aws.ToString(ix.IndexName))
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

// ensureTTL enables TTL on attr (when the model declares one) and reports
// whether it changed anything. TTL is never switched off here: on AWS that
// blocks TTL changes for an hour, too high a price for a local run.
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
		return false, fmt.Errorf("table %s: TTL is on attribute %q, the model (service.yaml) wants %q; restart the emulator for a clean slate",
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

// missingIndexes are the wanted indexes the table does not have (by name).
func missingIndexes(want []types.GlobalSecondaryIndex, have []types.GlobalSecondaryIndexDescription) []types.GlobalSecondaryIndex {
	present := map[string]bool{}
	for _, g := range have {
		present[aws.ToString(g.IndexName)] = true
	}
	var missing []types.GlobalSecondaryIndex
	for _, ix := range want {
		if !present[aws.ToString(ix.IndexName)] {
			missing = append(missing, ix)
		}
	}
	return missing
}

func streamMatches(have *types.StreamSpecification, view string) bool {
	return have != nil && aws.ToBool(have.StreamEnabled) && string(have.StreamViewType) == view
}
