package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/testenv"
)

// TestChaos is make chaos inside make test: the chaos run at
// SHOP_CHAOS_N orders on an emulator of its own (its faults for every call
// would break the other tests' requests on the shared one, and its load
// would slow them), deployed by the local deployer, with the table written
// to SHOP_CHAOS_REPORT when set. Without SHOP_CHAOS_N it skips: make test
// decides whether and at what N it runs.
func TestChaos(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("SHOP_CHAOS_N"))
	if err != nil || n <= 0 {
		t.Skip("SHOP_CHAOS_N unset: the chaos run is make chaos, or make test's when it sets SHOP_CHAOS_N")
	}
	root := filepath.Join("..", "..")
	port := testenv.OwnEmulator(t, root)
	endpoint := "http://127.0.0.1:" + port
	urlFile := filepath.Join(t.TempDir(), "api-url")
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	deploy := exec.CommandContext(ctx, "go", "run", "./localstack/deploy", "-endpoint", endpoint,
		"-out", filepath.Join(t.TempDir(), "zips"), "-url-file", urlFile)
	deploy.Dir = root
	deploy.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint)
	if out, err := deploy.CombinedOutput(); err != nil {
		t.Fatalf("deploy to the chaos run's emulator: %v\n%s", err, out)
	}
	api, err := os.ReadFile(urlFile)
	if err != nil {
		t.Fatal(err)
	}
	deployed := time.Since(began)
	o := options{
		n: n, products: 5, units: 50, users: max(5, n/5), workers: 16, deadline: 3 * time.Minute,
		api: strings.TrimSpace(string(api)), report: os.Getenv("SHOP_CHAOS_REPORT"), seed: uint64(time.Now().UnixNano()),
	}
	if code := run(o); code != 0 {
		t.Fatalf("the chaos run at N=%d ended %d (1: a violation; see its table above)", n, code)
	}
	t.Logf("chaos at N=%d: deployed in %v, ran in %v", n, deployed.Round(time.Second), (time.Since(began) - deployed).Round(time.Second))
}
