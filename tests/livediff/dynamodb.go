package livediff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func readTables(ctx context.Context, sn *snapshot) error {
	var names []string
	p := dynamodb.NewListTablesPaginator(sn.ddb, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for _, name := range out.TableNames {
			if sn.n.owns(name) {
				names = append(names, name)
			}
		}
	}
	tables := map[string]Table{}
	var mu sync.Mutex
	err := forEach(names, func(name string) error {
		t, err := readTable(ctx, sn.ddb, name)
		if err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
		mu.Lock()
		tables[name] = t
		mu.Unlock()
		return nil
	})
	sn.s.Tables = tables
	return err
}

func readTable(ctx context.Context, ddb *dynamodb.Client, name string) (Table, error) {
	out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		return Table{}, fmt.Errorf("describe: %w", err)
	}
	d := out.Table
	t := Table{
		KeySchema:    keySchema(d.KeySchema),
		Attributes:   map[string]string{},
		Indexes:      map[string]Index{},
		LocalIndexes: map[string]Index{},
		TTL:          "off",
		Stream:       "off",
		BillingMode:  string(dtypes.BillingModeProvisioned), // what AWS means by no summary
		Encryption:   "default",
	}
	for _, a := range d.AttributeDefinitions {
		t.Attributes[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	if d.BillingModeSummary != nil && d.BillingModeSummary.BillingMode != "" {
		t.BillingMode = string(d.BillingModeSummary.BillingMode)
	}
	if t.BillingMode == string(dtypes.BillingModeProvisioned) {
		t.Throughput = throughput(d.ProvisionedThroughput)
	}
	for _, g := range d.GlobalSecondaryIndexes {
		ix := Index{KeySchema: keySchema(g.KeySchema), Projection: projection(g.Projection)}
		if t.BillingMode == string(dtypes.BillingModeProvisioned) {
			ix.Throughput = throughput(g.ProvisionedThroughput)
		}
		t.Indexes[aws.ToString(g.IndexName)] = ix
	}
	for _, l := range d.LocalSecondaryIndexes {
		t.LocalIndexes[aws.ToString(l.IndexName)] = Index{KeySchema: keySchema(l.KeySchema), Projection: projection(l.Projection)}
	}
	if s := d.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		t.Stream = string(s.StreamViewType)
	}
	if s := d.SSEDescription; s != nil && s.Status != "" {
		t.Encryption = strings.TrimSpace(string(s.SSEType) + " " + string(s.Status))
		t.EncryptionKey = aws.ToString(s.KMSMasterKeyArn)
	}
	t.DeletionProtection = aws.ToBool(d.DeletionProtectionEnabled)
	if d.TableClassSummary != nil {
		t.TableClass = string(d.TableClassSummary.TableClass)
	}

	ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	if err != nil {
		return Table{}, fmt.Errorf("describe TTL: %w", err)
	}
	if desc := ttl.TimeToLiveDescription; desc != nil &&
		(desc.TimeToLiveStatus == dtypes.TimeToLiveStatusEnabled || desc.TimeToLiveStatus == dtypes.TimeToLiveStatusEnabling) {
		t.TTL = aws.ToString(desc.AttributeName)
	}

	backups, err := ddb.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: &name})
	if err != nil {
		return Table{}, fmt.Errorf("describe continuous backups: %w", err)
	}
	t.PointInTimeRecovery = string(dtypes.PointInTimeRecoveryStatusDisabled)
	if cb := backups.ContinuousBackupsDescription; cb != nil && cb.PointInTimeRecoveryDescription != nil {
		t.PointInTimeRecovery = string(cb.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus)
	}

	tags, err := ddb.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.TableArn})
	if err != nil {
		return Table{}, fmt.Errorf("list tags: %w", err)
	}
	for _, tag := range tags.Tags {
		if t.Tags == nil {
			t.Tags = map[string]string{}
		}
		t.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return t, nil
}

func keySchema(ks []dtypes.KeySchemaElement) string {
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return strings.Join(parts, ", ")
}

func projection(p *dtypes.Projection) string {
	if p == nil {
		return ""
	}
	attrs := slices.Clone(p.NonKeyAttributes)
	slices.Sort(attrs)
	return strings.TrimSpace(string(p.ProjectionType) + " " + strings.Join(attrs, ", "))
}

func throughput(p *dtypes.ProvisionedThroughputDescription) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", aws.ToInt64(p.ReadCapacityUnits), aws.ToInt64(p.WriteCapacityUnits))
}
