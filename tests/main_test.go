package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/tests/leastprivilege"
)

// stackUsed is set once a test has found the deployed stack's API: only a
// run that drove the stack caused calls worth checking (go test -run '^$',
// which make test uses to compile, drives nothing).
var stackUsed atomic.Bool

// checkTimeout bounds the least-privilege check: it reads a few dozen small
// things from the local emulator.
const checkTimeout = time.Minute

// TestMain runs the end-to-end tests, then proves least privilege over the
// AWS calls they made the deployed functions do: every call each function
// recorded during the run (and before it, since the function was deployed:
// a warm instance caches what it loaded once) must be allowed by the policy
// its role has on the stack, which the emulator itself never checks
// (DESIGN.md §7c). It prints a report, with the grants no call used; with
// SHOP_PRIVILEGE_REPORT set it also writes it to that file (make test prints
// it from there, since go test shows a passing package's output only with -v).
//
// Around the run, a capture on the stack's bus (capture_test.go) records
// every event the run made the code emit; at the end each is checked
// against its schema in the catalog (events/).
//
// The tests run in parallel (each calls t.Parallel): they share only the
// deployed stack, each with its own users, products and keys. Defaults for
// the emulator's region and credentials are set here, once, because
// testenv.RequireEmulator's t.Setenv cannot be used by parallel tests.
func TestMain(m *testing.M) {
	present, required := testenv.UseEmulator()
	start := time.Now()
	captureOK := true
	if present && !onKnative() {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		var err error
		if capture, err = startCapture(ctx); err != nil {
			msg := fmt.Sprintf("events: no capture on the bus, so no event test can run: %v\n", err)
			fmt.Print(msg)
			if path := os.Getenv("SHOP_EVENTS_REPORT"); path != "" {
				_ = os.WriteFile(path, []byte(msg), 0o644)
			}
			captureOK = !required
		}
		cancel()
	}
	code := m.Run()
	if capture != nil && !capture.finish() {
		captureOK = false
	}
	if !captureOK && code == 0 {
		code = 1
	}
	if stackUsed.Load() && !checkLeastPrivilege(start, present, required) && code == 0 {
		code = 1
	}
	if stackUsed.Load() && present && !onKnative() && !checkOrdersRebuild() && code == 0 {
		code = 1
	}
	// Last, so that the logs hold every line the run caused (observability_test.go).
	if stackUsed.Load() && present && !onKnative() && !checkLogs(start) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// checkOrdersRebuild proves the orders' event sourcing over everything the
// run (and any run before it on this stack) placed: every order's events,
// folded from the first, give exactly its state item (orders.Store.Verify).
func checkOrdersRebuild() bool {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		fmt.Println("orders rebuild:", err)
		return false
	}
	db := dynamodb.NewFromConfig(cfg)
	table := naming.Table(prefix(), "orders")
	st := orders.NewStore(db, table)
	var checked, bad int
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          aws.String("sk = :state"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":state": &types.AttributeValueMemberS{Value: "STATE"}},
		ProjectionExpression:      aws.String("id"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			fmt.Println("orders rebuild:", err)
			return false
		}
		for _, item := range page.Items {
			id, _ := item["id"].(*types.AttributeValueMemberS)
			if id == nil {
				fmt.Println("orders rebuild: a state item without an id")
				bad++
				continue
			}
			checked++
			if err := st.Verify(ctx, id.Value); err != nil {
				fmt.Println("orders rebuild:", err)
				bad++
			}
		}
	}
	fmt.Printf("orders rebuild: %d orders rebuilt from their events, %d differ from their state item\n", checked, bad)
	return bad == 0
}

// checkLeastPrivilege reports whether every call recorded since start was
// allowed, printing why not.
func checkLeastPrivilege(start time.Time, emulator, required bool) bool {
	began := time.Now()
	if onKnative() {
		// The CloudWatch logs read below are the Lambda functions': a
		// parallel Lambda run's calls would make this pass while proving
		// nothing about the processes this run drove.
		fmt.Println("least privilege: not checked by this run: on Knative a function acts with its pod identity " +
			"(the IAM role its ServiceAccount is bound to, holding the model's role policy), and its calls are not in CloudWatch; " +
			"tests/knative, which started the processes, checks the calls they recorded against that policy")
		return true
	}
	if !emulator {
		if required {
			fmt.Println("least privilege: SHOP_REQUIRE_EMULATOR=1 but AWS_ENDPOINT_URL is not set: nothing proves the functions' policies")
			return false
		}
		fmt.Println("least privilege: not checked: set AWS_ENDPOINT_URL to the local emulator (make test does)")
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		fmt.Println("least privilege:", err)
		return false
	}
	set, err := manifest.Load("..")
	if err != nil {
		fmt.Println("least privilege:", err)
		return false
	}
	var names []string
	for _, fn := range set.Functions() {
		names = append(names, naming.Function(prefix(), fn.Name))
	}
	stack := leastprivilege.NewStack(cfg)
	report := leastprivilege.Check(ctx, stack.Functions(ctx, names, start), stack)

	var out bytes.Buffer
	report.Write(&out)
	fmt.Fprintf(&out, "(checked in %v)\n", time.Since(began).Round(10*time.Millisecond))
	fmt.Print(out.String())
	if path := os.Getenv("SHOP_PRIVILEGE_REPORT"); path != "" {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			fmt.Println("least privilege: write report:", err)
			return false
		}
	}
	return !report.Failed()
}
