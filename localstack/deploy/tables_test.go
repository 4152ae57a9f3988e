package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// The tables the deployer creates from the model are the ones the
// integration tests create from service.yaml (storetest, through
// manifest.Table.CreateTableInput): one table shape wherever it is made.
func TestCreateTableInputMatchesTheManifests(t *testing.T) {
	model := testModel(t)
	set, err := manifest.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(model.Tables) != len(set.Services) || len(model.Tables) == 0 {
		t.Fatalf("%d tables for %d services", len(model.Tables), len(set.Services))
	}
	for _, tbl := range model.Tables {
		svc := set.Service(tbl.Service)
		if svc == nil {
			t.Errorf("table %s: no service %s", tbl.Name, tbl.Service)
			continue
		}
		got, want := createTableInput(tbl), svc.Table.CreateTableInput(tbl.Name)
		// Index order means nothing to DynamoDB; the model sorts by name.
		slices.SortFunc(want.GlobalSecondaryIndexes, func(a, b types.GlobalSecondaryIndex) int {
			return strings.Compare(aws.ToString(a.IndexName), aws.ToString(b.IndexName))
		})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("table %s:\n got %+v\nwant %+v", tbl.Name, got, want)
		}
	}
}

// A table's settings are the model's, but for deletion protection, which
// is off on a local stack whatever the model says.
func TestWantTableSettings(t *testing.T) {
	for _, s := range []deployment.Settings{
		deployment.DefaultSettings(),
		{ServerSideEncryption: false, PointInTimeRecovery: false},
		{ServerSideEncryption: true, PointInTimeRecovery: false},
	} {
		want := tableSettings{Encrypted: s.ServerSideEncryption, PointInTimeRecovery: s.PointInTimeRecovery}
		if got := wantTableSettings(s); got != want {
			t.Errorf("wantTableSettings(%+v) = %+v, want %+v", s, got, want)
		}
	}
}

func TestHaveTableSettings(t *testing.T) {
	pitr := func(status types.PointInTimeRecoveryStatus) *types.ContinuousBackupsDescription {
		return &types.ContinuousBackupsDescription{PointInTimeRecoveryDescription: &types.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: status}}
	}
	sse := func(typ types.SSEType, status types.SSEStatus) *types.SSEDescription {
		return &types.SSEDescription{SSEType: typ, Status: status}
	}
	for _, tc := range []struct {
		name    string
		table   types.TableDescription
		backups *types.ContinuousBackupsDescription
		want    tableSettings
	}{
		{"nothing reported", types.TableDescription{}, nil, tableSettings{}},
		{"AWS-owned key", types.TableDescription{}, pitr(types.PointInTimeRecoveryStatusDisabled), tableSettings{}},
		{"managed key", types.TableDescription{SSEDescription: sse(types.SSETypeKms, types.SSEStatusEnabled)}, nil, tableSettings{Encrypted: true}},
		{"managed key turning on", types.TableDescription{SSEDescription: sse(types.SSETypeKms, types.SSEStatusEnabling)}, nil, tableSettings{Encrypted: true}},
		{"managed key turned off", types.TableDescription{SSEDescription: sse(types.SSETypeKms, types.SSEStatusDisabled)}, nil, tableSettings{Encrypted: false}},
		{"point-in-time recovery", types.TableDescription{}, pitr(types.PointInTimeRecoveryStatusEnabled), tableSettings{PointInTimeRecovery: true}},
		{"deletion protection", types.TableDescription{DeletionProtectionEnabled: aws.Bool(true)}, nil, tableSettings{DeletionProtection: true}},
	} {
		if got := haveTableSettings(&tc.table, tc.backups); got != tc.want {
			t.Errorf("%s: haveTableSettings = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// Encryption on asks for the AWS-managed key; off, for the AWS-owned
// default.
func TestSSESpecification(t *testing.T) {
	on := tableSettings{Encrypted: true}.sseSpecification()
	if !aws.ToBool(on.Enabled) || on.SSEType != types.SSETypeKms || on.KMSMasterKeyId != nil {
		t.Errorf("encrypted: %+v, want enabled, KMS, no key of ours", on)
	}
	if off := (tableSettings{}).sseSpecification(); aws.ToBool(off.Enabled) || off.SSEType != "" {
		t.Errorf("not encrypted: %+v, want disabled", off)
	}
}
