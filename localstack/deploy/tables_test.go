package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
