// Package storetest gives integration tests a real DynamoDB table in the
// local emulator, created from a service's own service.yaml and deleted when
// the test ends.
//
//	db, table := storetest.Table(t, "users")
//
// LossyTable gives the same with a client that loses chosen responses
// after the emulator applied the request, to test that writes are safe to
// retry. Without an emulator the tests skip, or fail under make test: see
// shared/testenv.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/testenv"
)

var seq atomic.Int64

// Table creates a fresh table shaped like functions/<service>/service.yaml.
func Table(t testing.TB, service string) (*dynamodb.Client, string) {
	t.Helper()
	db, name, _ := newTable(t, service)
	return db, name
}

// newTable creates the table and returns a client on it, with the config
// the client was made from.
func newTable(t testing.TB, service string) (*dynamodb.Client, string, aws.Config) {
	t.Helper()
	testenv.RequireEmulator(t)
	ctx := context.Background()
	set, err := manifest.Load(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	svc := set.Service(service)
	if svc == nil {
		t.Fatalf("no service %q in the manifests", service)
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { logRetries(t, o) })
	name := fmt.Sprintf("test-%s-%d-%d", service, time.Now().UnixNano(), seq.Add(1))
	// The name is unique to this test, so "already exists" can only mean the
	// SDK retried a CreateTable whose first attempt the emulator did carry
	// out (seen here when a connection drops mid-response).
	var inUse *types.ResourceInUseException
	if _, err := db.CreateTable(ctx, svc.Table.CreateTableInput(name)); err != nil && !errors.As(err, &inUse) {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Logf("delete table %s: %v", name, err)
		}
	})
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("table %s not active: %v", name, err)
	}
	if ttl := svc.Table.TTLInput(name); ttl != nil {
		if _, err := db.UpdateTimeToLive(ctx, ttl); err != nil {
			t.Fatalf("ttl on %s: %v", name, err)
		}
	}
	return db, name, cfg
}

// logRetries logs every SDK retry into the test's output. Under load
// MiniStack 1.5.33 now and then applies a write whose response body the
// client then fails to read ("use of closed network connection"), and the
// SDK retries: seen about once per thousand conditional writes with three
// test packages on one emulator, with or without keep-alives. Every
// conditional write in shared/store is safe to retry (LossyTable makes the
// fault happen on demand to prove it), so make test runs the packages in
// parallel; these lines show when the fault struck.
func logRetries(t testing.TB, o *dynamodb.Options) {
	o.ClientLogMode = aws.LogRetries
	o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
		t.Logf("aws sdk: "+format, v...)
	})
}

// repoRoot finds the module root from this source file's location, so tests
// work from any package directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate storetest source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// MachineryProbe is a DB that only records whether each call's context
// was marked store.Machinery (the platform's bookkeeping); its calls
// answer empty outputs.
type MachineryProbe struct {
	store.DB
	Marked, Plain int
}

func (p *MachineryProbe) count(ctx context.Context) {
	if store.IsMachinery(ctx) {
		p.Marked++
	} else {
		p.Plain++
	}
}

func (p *MachineryProbe) GetItem(ctx context.Context, _ *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	p.count(ctx)
	return &dynamodb.GetItemOutput{}, nil
}

func (p *MachineryProbe) PutItem(ctx context.Context, _ *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	p.count(ctx)
	return &dynamodb.PutItemOutput{}, nil
}

func (p *MachineryProbe) UpdateItem(ctx context.Context, _ *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	p.count(ctx)
	return &dynamodb.UpdateItemOutput{}, nil
}

func (p *MachineryProbe) DeleteItem(ctx context.Context, _ *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	p.count(ctx)
	return &dynamodb.DeleteItemOutput{}, nil
}

// WantAllMachinery fails t unless every call reached p marked, and some did.
func (p *MachineryProbe) WantAllMachinery(t testing.TB) {
	t.Helper()
	if p.Marked == 0 || p.Plain != 0 {
		t.Errorf("%d calls marked store.Machinery, %d not: want all of them (and some)", p.Marked, p.Plain)
	}
}
