// Command deploy builds every function declared under functions/ and applies
// the deployment model (shared/deployment: tables, signing keys, the payment
// provider's secret, roles, log groups, functions, Step Functions state
// machines, HTTP API with its Lambda authorizer, throttled stage and access
// log, the event bus with its archive, the consumers' rules and queues, the
// event source mappings, the alarms with their topic and the dashboard, and
// the stack-wide settings) to a local AWS emulator: MiniStack or
// LocalStack. It removes the functions, state machines, rules, queues,
// mappings and alarms (with the functions' roles and log groups) the model
// no longer has, as Terraform would, and keeps the
// tables (prune.go). Terraform (infra/) reads the same model, so the local
// stack and AWS cannot drift apart; what is here is only how to get there
// with AWS calls.
//
//	go run ./localstack/deploy                                   # build + deploy to $AWS_ENDPOINT_URL
//	go run ./localstack/deploy -build-only -goarch arm64 -out build/aws   # zips for Terraform
//
// Every step is idempotent: a second run on an unchanged tree changes
// nothing and reports every resource as unchanged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// deployTimeout bounds a whole run, so a wedged emulator fails the build
// instead of hanging it.
const deployTimeout = 15 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed already
		}
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

type options struct {
	root      string
	prefix    string
	endpoint  string
	goarch    string
	out       string
	buildOnly bool
	urlFile   string
	timings   bool
	// corsOrigins are the origins the API's CORS configuration allows
	// (deployment.LocalCORSOrigins: $SHOP_CORS_ALLOWED_ORIGINS, else
	// http://localhost:3000); none configures no CORS.
	corsOrigins []string

	// httpClient, when set, sends every AWS request (tests lose responses
	// on purpose with it); nil is the SDK's default.
	httpClient aws.HTTPClient
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	defaultEndpoint := os.Getenv("AWS_ENDPOINT_URL")
	if defaultEndpoint == "" {
		defaultEndpoint = "http://127.0.0.1:4566"
	}
	var o options
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.root, "root", ".", "repository root (holds functions/)")
	fs.StringVar(&o.prefix, "prefix", "shop", "prefix of every physical resource name")
	fs.StringVar(&o.endpoint, "endpoint", defaultEndpoint, "emulator endpoint: taken from $AWS_ENDPOINT_URL when set")
	fs.StringVar(&o.goarch, "goarch", runtime.GOARCH, "GOARCH of the bootstrap binaries: amd64 or arm64")
	fs.StringVar(&o.out, "out", filepath.Join("build", "local"), "build directory, relative to -root unless absolute")
	fs.BoolVar(&o.buildOnly, "build-only", false, "build the zips and stop (for Terraform)")
	fs.BoolVar(&o.timings, "timings", false, "print how long each phase took, to stderr")
	fs.StringVar(&o.urlFile, "url-file", filepath.Join(".local", "api-url"), "file to write the API base URL to, relative to -root unless absolute")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := lambdaArchitecture(o.goarch); err != nil {
		return o, err
	}
	if !prefixRE.MatchString(o.prefix) {
		return o, fmt.Errorf("-prefix %q must match %s", o.prefix, prefixRE)
	}
	o.out = underRoot(o.root, o.out)
	o.urlFile = underRoot(o.root, o.urlFile)
	origins, err := deployment.LocalCORSOrigins(os.Getenv)
	if err != nil {
		return o, err
	}
	o.corsOrigins = origins
	return o, nil
}

// underRoot resolves a relative path against the repository root, so the
// flags mean the same thing whatever directory the command runs from.
func underRoot(root, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	return deploy(ctx, opts, stdout)
}

// deploy builds and deploys as opts say, reporting to stdout.
func deploy(ctx context.Context, opts options, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, deployTimeout)
	defer cancel()

	set, err := manifest.Load(opts.root)
	if err != nil {
		return fmt.Errorf("load manifests: %w", err)
	}
	p := newProgress(stdout)
	if opts.timings {
		p.timings = os.Stderr
	}
	var d *deployer
	if !opts.buildOnly {
		// Before the build, so a stopped emulator fails in a second, not after it.
		if d, err = newDeployer(ctx, opts.endpoint, set, opts.prefix, opts.goarch, p, opts.httpClient); err != nil {
			return err
		}
		d.corsOrigins = opts.corsOrigins
	}
	start := time.Now()
	artifacts, err := buildAll(ctx, opts.root, opts.out, opts.goarch, set.Functions(), p)
	if err != nil {
		return err
	}
	p.phase("build", time.Since(start))
	if opts.buildOnly {
		return nil
	}

	start = time.Now()
	for _, t := range d.model.Tables {
		if err := d.ensureTable(ctx, t); err != nil {
			return err
		}
	}
	p.phase("tables", time.Since(start))

	start = time.Now()
	if err := d.ensureIssuers(ctx); err != nil {
		return err
	}
	p.phase("issuers", time.Since(start))

	start = time.Now()
	if err := d.ensurePaymentProviderSecret(ctx); err != nil {
		return err
	}
	p.phase("secrets", time.Since(start))

	// The API alone first: its URL is what the functions' bindings need
	// (bindings.go); its routes come once the functions exist.
	start = time.Now()
	apiID, err := d.ensureAPI(ctx)
	if err != nil {
		return err
	}
	url, err := apiBaseURL(opts.endpoint, apiID, d.model.API.Stage)
	if err != nil {
		return err
	}
	d.bindings = stackBindings(d.model, url)
	p.phase("api", time.Since(start))

	// The bus and the queues before the functions: the queues' URLs are
	// bindings.
	start = time.Now()
	if err := d.ensureEventBus(ctx); err != nil {
		return err
	}
	if err := d.ensureQueues(ctx); err != nil {
		return err
	}
	p.phase("queues", time.Since(start))

	start = time.Now()
	arns, err := d.ensureFunctions(ctx, artifacts)
	if err != nil {
		return err
	}
	p.phase("functions", time.Since(start))

	start = time.Now()
	if err := d.ensureStateMachines(ctx); err != nil {
		return err
	}
	p.phase("sfn", time.Since(start))

	start = time.Now()
	if err := d.ensureHTTPAPI(ctx, apiID, arns); err != nil {
		return err
	}
	p.phase("http api", time.Since(start))

	// The rules (which name queues) and the event source mappings (which
	// name functions and queues) once both exist.
	start = time.Now()
	if err := d.ensureRules(ctx); err != nil {
		return err
	}
	if err := d.ensureMappings(ctx); err != nil {
		return err
	}
	p.phase("triggers", time.Since(start))

	// The alarms topic, the alarms and the dashboard: they name the API,
	// the functions and the queues, which need not exist for them, but a
	// dashboard of a stack half deployed would mislead.
	start = time.Now()
	if err := d.ensureObservability(ctx, apiID); err != nil {
		return err
	}
	p.phase("alarms", time.Since(start))

	// Last: nothing deployed refers to what goes any more.
	start = time.Now()
	if err := d.prune(ctx); err != nil {
		return err
	}
	p.phase("prune", time.Since(start))

	if err := os.MkdirAll(filepath.Dir(opts.urlFile), 0o755); err != nil {
		return fmt.Errorf("url file %s: %w", opts.urlFile, err)
	}
	if err := os.WriteFile(opts.urlFile, []byte(url+"\n"), 0o644); err != nil {
		return fmt.Errorf("url file %s: %w", opts.urlFile, err)
	}
	fmt.Fprintln(stdout, url)
	return nil
}
