package infra

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/tests/livediff"
)

// providerMirror is where this machine image keeps the AWS provider (no
// registry is reachable here); when it exists, init installs from it only.
// Elsewhere init uses the user's CLI configuration, and so the registry.
const providerMirror = "/opt/tf-plugins"

// Timeouts. MiniStack reports a new function Pending at first and the
// provider polls it every 5 s; the functions' code comes from the
// artifacts bucket, so it creates them in parallel (from a local zip it
// would create them one at a time, and an apply took three to nine
// minutes instead of one). destroyReserve
// is kept back from the test's deadline so the stack is always destroyed,
// even when a phase runs into its timeout.
const (
	phaseTimeout   = 6 * time.Minute
	destroyReserve = 3 * time.Minute
	e2eParallel    = "4" // the end-to-end tests in flight at once: make test runs other packages beside this one
)

// TestTerraformAppliesToTheEmulator deploys infra/ for real with Terraform
// to the local emulator, under a prefix of its own beside the local
// deployer's stack, and proves it works and is stable:
//
//  1. host-architecture zips (the emulator runs whatever the zip holds);
//  2. init from the provider mirror when there is one, into a temporary
//     data directory, with the committed lock file read-only;
//  3. apply, with the local stack's test switches (fault injection,
//     recording of AWS calls) added through function_environment;
//  4. keytool ensure for that prefix, as an operator does after an apply;
//  5. the end-to-end suite (go test ./tests) against the API Terraform
//     outputs, ending with its least-privilege check over the calls the
//     Terraform stack's functions made;
//  6. the live diff against the local deployer's stack (see liveDiff);
//  7. a plan that must show no changes (keytool's writes included);
//  8. destroy, always, and nothing with the prefix left on the emulator.
//
// SHOP_TERRAFORM_ARTIFACTS names a directory (absolute) of host-architecture zips to
// apply instead of building them here (make test passes build/local, which
// its deploy has just built from the same tree).
//
// It skips, saying why (and writing why to $SHOP_TERRAFORM_REPORT), when
// terraform or a provider is missing; make test prints that report.
func TestTerraformAppliesToTheEmulator(t *testing.T) {
	rep := newReport(t)
	tf, err := exec.LookPath("terraform")
	if err != nil {
		rep.skip("terraform is not on PATH: Terraform was not applied (install Terraform >= 1.6 to run it)")
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" && os.Getenv("SHOP_REQUIRE_EMULATOR") != "1" {
		rep.skip("AWS_ENDPOINT_URL is not set: no emulator to apply Terraform to (make test sets it)")
	}
	testenv.RequireEmulator(t)
	// make test asks for an emulator of the test's own
	// (SHOP_TERRAFORM_OWN_EMULATOR=1): under the load of every other package
	// on one emulator, MiniStack now and then applies a request and loses its
	// response, and the provider's SDK sends it again. For an idempotent call
	// that is harmless; for a create it leaves a twin (CreateIntegration) or a
	// conflict the provider waits out for minutes (AddPermission). Seen in two
	// runs of about ten on a shared emulator.
	if os.Getenv("SHOP_TERRAFORM_OWN_EMULATOR") == "1" {
		began := time.Now()
		port := testenv.OwnEmulator(t, repoRoot)
		rep.phases = append(rep.phases, "own emulator on port "+port+" "+time.Since(began).Round(100*time.Millisecond).String())
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	region := os.Getenv("AWS_REGION")
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(phaseTimeout + destroyReserve)
	}
	if time.Until(deadline) < destroyReserve+2*time.Minute {
		t.Fatalf("%v left before the test deadline: too little to apply, test and destroy a stack (use -timeout 10m)", time.Until(deadline).Round(time.Second))
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-destroyReserve))
	defer cancel()

	prefix := "tf" + randomSuffix(t)
	rep.prefix = prefix
	work := t.TempDir()
	run := &terraform{t: t, bin: tf, dir: filepath.Join(work, "infra"), env: []string{
		"TF_DATA_DIR=" + filepath.Join(work, "tfdata"),
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1", // no version check over the network
		// Every request the provider sends and every answer, for a failed
		// run's post-mortem (kept below); the provider's own retries show
		// only here.
		"TF_LOG_PROVIDER=DEBUG",
		"TF_LOG_PATH=" + filepath.Join(work, "terraform.log"),
	}}
	// Registered before the destroy below, so it runs after it: a failed
	// run keeps the log, destroy included, where make test's logs are.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		kept, err := filepath.Abs(filepath.Join("..", ".local", "terraform-"+prefix+".log"))
		if err == nil {
			err = os.MkdirAll(filepath.Dir(kept), 0o755)
		}
		var log []byte
		if err == nil {
			log, err = os.ReadFile(filepath.Join(work, "terraform.log"))
		}
		if err == nil {
			err = os.WriteFile(kept, log, 0o644)
		}
		if err != nil {
			t.Logf("could not keep Terraform's log: %v", err)
			return
		}
		rep.note("Terraform's log kept in " + kept)
	})
	if _, err := os.Stat(providerMirror); err == nil {
		cli := filepath.Join(work, "cli.tfrc")
		writeTestFile(t, cli, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", providerMirror))
		run.env = append(run.env, "TF_CLI_CONFIG_FILE="+cli)
		rep.provider = "provider from the mirror " + providerMirror
	} else {
		rep.provider = "provider from the CLI configuration (registry)"
	}

	// A copy of the configuration, so the state and anything init writes
	// stay out of the repository; its state is local to the copy whatever
	// backend an operator has configured (backend.tf.example).
	copyConfig(t, infraDir, run.dir)
	writeTestFile(t, filepath.Join(run.dir, "zz_test_backend_override.tf"), "terraform {\n  backend \"local\" {}\n}\n")

	// 1. Zips for this machine: the ones make test's deploy has just built
	// from this tree (SHOP_TERRAFORM_ARTIFACTS), or our own.
	zips := os.Getenv("SHOP_TERRAFORM_ARTIFACTS")
	if zips == "" {
		zips = filepath.Join(work, "zips")
		rep.phase("build", func() error {
			return goCmd(ctx, t, nil, "run", "./localstack/deploy", "-build-only", "-out", zips)
		})
	} else if !filepath.IsAbs(zips) {
		t.Fatalf("SHOP_TERRAFORM_ARTIFACTS=%s: want an absolute path", zips)
	}

	// 2. Init. Without a mirror, a provider that cannot be installed (no
	// registry, offline) is a reason to skip, said loudly; any other
	// failure fails.
	var initOut []byte
	initErr := rep.measure("init", func() error {
		var err error
		initOut, err = run.output(ctx, "init", "-input=false", "-no-color", "-lockfile=readonly")
		return err
	})
	if initErr != nil {
		if _, err := os.Stat(providerMirror); err != nil && bytes.Contains(initOut, []byte("provider")) && bytes.Contains(initOut, []byte("Failed to")) {
			rep.skip("the AWS provider could not be installed (no mirror at " + providerMirror + ", registry unreachable?): Terraform was not applied:\n" + lastLines(initOut, 8))
		}
		t.Fatalf("terraform init: %v\n%s", initErr, initOut)
	}

	// The local deployer's allowed origins, read as it reads them: the live
	// diff compares the two stacks' CORS configurations.
	corsOrigins, err := deployment.LocalCORSOrigins(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(work, "test.tfvars.json")
	writeJSON(t, vars, map[string]any{
		"name_prefix":                         prefix,
		"region":                              region,
		"endpoint_url":                        endpoint,
		"architecture":                        lambdaArchitecture(t),
		"artifacts_dir":                       zips,
		"table_deletion_protection":           false,
		"signing_secret_recovery_window_days": 0,
		// The payment provider's simulator (localOnly), as the local
		// deployer always deploys it: the e2e suite charges through it, and
		// the live diff compares its table, functions, routes and secret.
		"use_payment_simulator": true,
		// The switches the local deployer sets, from the same constants:
		// the e2e suite's fault injection and least-privilege check need them.
		// And the emulator's trace collector, which the local deployer names
		// too (on AWS Lambda sets AWS_XRAY_DAEMON_ADDRESS itself): the live
		// diff compares the two stacks' environments.
		"function_environment": map[string]string{faults.EnvSwitch: "1", awscalls.EnvSwitch: "1",
			"AWS_XRAY_DAEMON_ADDRESS": traceCollector(t, endpoint)},
		// The emulator has no X-Ray API.
		"xray_sampling_rules":  false,
		"cors_allowed_origins": corsOrigins,
	})
	rep.note("X-Ray sampling rules NOT applied (xray_sampling_rules = false: the emulator has no X-Ray API)")
	rep.note("CloudWatch alarms NOT applied by Terraform (the emulator reads them back incomplete: modules/observability); its alarms topic and dashboard are")
	varArg := "-var-file=" + vars

	// 8. Destroy, whatever happens from here on, then look for leftovers.
	t.Cleanup(func() {
		dctx, dcancel := context.WithDeadline(context.Background(), deadline.Add(-15*time.Second))
		defer dcancel()
		rep.measure("destroy", func() error {
			out, err := run.output(dctx, "destroy", "-auto-approve", "-input=false", "-no-color", varArg)
			if err != nil {
				t.Errorf("terraform destroy: %v\n%s", err, lastLines(out, 40))
			}
			return err
		})
		if left := leftovers(dctx, t, prefix); len(left) > 0 {
			rep.note("LEFT BEHIND: " + strings.Join(left, ", "))
			t.Errorf("after destroy, the emulator still holds, for prefix %s: %s", prefix, strings.Join(left, "; "))
		} else {
			rep.note("nothing with the prefix left")
		}
	})

	// 3. Apply.
	// The prefix is new, so a create that finds its resource already there
	// met its own first attempt: the emulator applied it and lost the
	// response (localstack/README.md), and the provider's retry conflicts.
	// Such a resource is imported and the apply run again, at most twice,
	// and the report says so; any other failure fails the test.
	stalls := newPermissionStalls(t, prefix)
	rep.phase("apply", func() error {
		defer func() {
			for _, note := range stalls.report() {
				rep.note(note)
			}
		}()
		for round := 1; ; round++ {
			out, err := run.outputWatching(ctx, stalls.watch, "apply", "-auto-approve", "-input=false", "-no-color", varArg)
			if err == nil {
				rep.resources = countAdded(out)
				if slow := slowestCreates(out, 3); slow != "" {
					rep.note("slowest creates: " + slow)
				}
				return nil
			}
			lost := lostCreates(out)
			if len(lost) == 0 || round == 3 {
				return fmt.Errorf("%w\n%s", err, lastLines(out, 60))
			}
			for _, c := range lost {
				if iout, err := run.output(ctx, "import", "-input=false", "-no-color", varArg, c.address, c.id); err != nil {
					return fmt.Errorf("import %s (%s), whose create response the emulator lost: %w\n%s", c.address, c.id, err, lastLines(iout, 20))
				}
				rep.note(fmt.Sprintf("the emulator lost the response to the create of %s: imported and applied again", c.address))
			}
		}
	})
	for _, twin := range removeTwins(ctx, t, run) {
		rep.note("the emulator lost the response to a create and made it twice: the twin " + twin + " deleted")
	}
	apiURL := strings.TrimSpace(string(run.mustOutput(ctx, "output", "-raw", "api_url")))
	if !strings.HasPrefix(apiURL, endpoint) {
		t.Fatalf("api_url %q is not on the emulator %s", apiURL, endpoint)
	}

	// 4. Signing keys, as after any apply (README.md).
	rep.phase("keys", func() error {
		return goCmd(ctx, t, nil, "run", "./infra/keytool", "-endpoint", endpoint, "-prefix", prefix, "ensure")
	})

	// 5. The end-to-end suite against the Terraform stack. Its own
	// least-privilege report goes to a file of ours: the main run's report
	// (SHOP_PRIVILEGE_REPORT) is make test's.
	privilege := filepath.Join(work, "least-privilege.txt")
	eventsReport := filepath.Join(work, "events.txt")
	rep.phase("e2e", func() error {
		return goCmd(ctx, t, []string{
			"SHOP_API_URL=" + apiURL,
			"SHOP_PREFIX=" + prefix,
			"SHOP_PLATFORM=", // through API Gateway and Lambda, whatever the caller's environment says
			"SHOP_REQUIRE_EMULATOR=1",
			"SHOP_PRIVILEGE_REPORT=" + privilege,
			"SHOP_EVENTS_REPORT=" + eventsReport,
		}, "test", "-count=1", "-timeout", "5m", "-parallel", e2eParallel, "./tests")
	})
	rep.verdict(t, privilege, "least-privilege", "least privilege", ": all allowed")
	rep.verdict(t, eventsReport, "events", "events", ": all match their schemas")

	// 6. The live diff against the local deployer's stack on the same
	// emulator, deployed here (where it is there already, the deploy
	// changes nothing) from the same zips.
	rep.phase("deploy", func() error {
		return goCmd(ctx, t, nil, "run", "./localstack/deploy", "-endpoint", endpoint,
			"-prefix", cmp.Or(os.Getenv("SHOP_PREFIX"), "shop"),
			"-out", zips, "-url-file", filepath.Join(work, "deployer-api-url"))
	})
	rep.note(liveDiff(ctx, t, prefix))

	// 7. Nothing to change: the emulator reads back what Terraform wrote,
	// and nothing Terraform manages was changed by keytool.
	rep.phase("plan", func() error {
		out, err := run.output(ctx, "plan", "-detailed-exitcode", "-input=false", "-no-color", varArg)
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 2 {
			return fmt.Errorf("the plan right after apply is not empty:\n%s", planChanges(out))
		}
		if err != nil {
			return fmt.Errorf("%w\n%s", err, lastLines(out, 40))
		}
		return nil
	})
	rep.note("plan empty")
}

// liveDiff compares what Terraform deployed under prefix with what the
// local deployer deployed (the stack make test runs the main end-to-end
// suite on: $SHOP_PREFIX, else shop), as the emulator reports them: every
// difference but the prefix and the ids the cloud assigns is an error
// (tests/livediff says what is compared). It returns what it found, for
// the report.
func liveDiff(ctx context.Context, t *testing.T, prefix string) string {
	t.Helper()
	local := cmp.Or(os.Getenv("SHOP_PREFIX"), "shop")
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Errorf("live diff: %v", err)
		return "live diff FAILED: " + err.Error()
	}
	a, err := livediff.Snapshot(ctx, cfg, local)
	if err != nil {
		t.Errorf("live diff: %v", err)
		return "live diff FAILED: " + err.Error()
	}
	if len(a.Functions) == 0 {
		why := fmt.Sprintf("no stack of the local deployer (prefix %s) on the emulator to compare with (make run or make deploy makes one)", local)
		if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
			t.Errorf("live diff: %s", why)
			return "live diff FAILED: " + why
		}
		t.Logf("LIVE DIFF NOT RUN: %s", why)
		return "live diff NOT RUN: " + why
	}
	b, err := livediff.Snapshot(ctx, cfg, prefix)
	if err != nil {
		t.Errorf("live diff: %v", err)
		return "live diff FAILED: " + err.Error()
	}
	diffs := livediff.Diff(a, b)
	for _, d := range diffs {
		t.Errorf("live diff (a: local deployer %s, b: Terraform %s): %s", local, prefix, d)
	}
	if len(diffs) > 0 {
		return fmt.Sprintf("live diff against the local deployer's stack (%s): %d DIFFERENCES", local, len(diffs))
	}
	return fmt.Sprintf("live diff against the local deployer's stack (%s): none", local)
}

// traceCollector is the address of the trace collector that
// localstack/ministack.sh runs beside the emulator at endpoint: UDP on
// 127.0.0.1 at the emulator's port number (the local deployer's
// traceDaemonAddress).
func traceCollector(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil || u.Port() == "" {
		t.Fatalf("AWS_ENDPOINT_URL %q names no port: no trace collector address for the functions", endpoint)
	}
	return net.JoinHostPort("127.0.0.1", u.Port())
}

// removeTwins deletes what the emulator made twice and returns it. A
// create whose response the emulator lost is sent again by the provider's
// SDK, and MiniStack makes a second one where AWS would refuse it (a second
// mapping of one queue to one function, a second route of one route key:
// ResourceConflictException, ConflictException) or never see it. Terraform's
// state holds the one whose create answered; the twin, unknown to it,
// would deliver every record twice or answer beside its route, show in the
// live diff and stay behind after destroy. Twins are the event source
// mappings of a function and source, and the routes, integrations and
// authorizers of the stack's API, that state does not hold (the prefix is
// new, so nothing else made them). Routes go first: one may target a twin.
func removeTwins(ctx context.Context, t *testing.T, run *terraform) []string {
	t.Helper()
	var state struct {
		Resources []struct {
			Module, Type, Name string
			Instances          []struct {
				Attributes struct {
					ID             string `json:"id"`
					APIID          string `json:"api_id"`
					UUID           string `json:"uuid"`
					FunctionARN    string `json:"function_arn"`
					EventSourceARN string `json:"event_source_arn"`
				}
			}
		}
	}
	if err := json.Unmarshal(run.mustOutput(ctx, "state", "pull"), &state); err != nil {
		t.Fatalf("terraform state pull: %v", err)
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lambdas, apis := lambda.NewFromConfig(cfg), apigatewayv2.NewFromConfig(cfg)
	var twins []string
	twin := func(module, typ, name, id string) {
		twins = append(twins, fmt.Sprintf("%s.%s.%s (%s)", module, typ, name, id))
	}
	known := map[string]bool{}   // route, integration and authorizer ids in state
	byAPI := map[string]string{} // API id -> a module holding its parts, for the report
	for _, r := range state.Resources {
		for _, in := range r.Instances {
			switch a := in.Attributes; r.Type {
			case "aws_apigatewayv2_route", "aws_apigatewayv2_integration", "aws_apigatewayv2_authorizer":
				known[a.ID] = true
				byAPI[a.APIID] = r.Module
			case "aws_lambda_event_source_mapping":
				for p := lambda.NewListEventSourceMappingsPaginator(lambdas, &lambda.ListEventSourceMappingsInput{FunctionName: &a.FunctionARN}); p.HasMorePages(); {
					page, err := p.NextPage(ctx)
					if err != nil {
						t.Fatalf("list the event source mappings of %s: %v", a.FunctionARN, err)
					}
					for _, m := range page.EventSourceMappings {
						if aws.ToString(m.EventSourceArn) != a.EventSourceARN || aws.ToString(m.UUID) == a.UUID {
							continue
						}
						if _, err := lambdas.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil {
							t.Fatalf("delete the twin %s of the event source mapping %s: %v", aws.ToString(m.UUID), a.UUID, err)
						}
						twin(r.Module, r.Type, r.Name, aws.ToString(m.UUID))
					}
				}
			}
		}
	}
	for _, api := range slices.Sorted(maps.Keys(byAPI)) {
		routes, err := apis.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: &api, MaxResults: aws.String("500")})
		if err != nil {
			t.Fatalf("list the routes of API %s: %v", api, err)
		}
		for _, r := range routes.Items {
			if id := aws.ToString(r.RouteId); !known[id] {
				if _, err := apis.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: &api, RouteId: &id}); err != nil {
					t.Fatalf("delete the twin route %s (%s) of API %s: %v", id, aws.ToString(r.RouteKey), api, err)
				}
				twin(byAPI[api], "aws_apigatewayv2_route", aws.ToString(r.RouteKey), id)
			}
		}
		integrations, err := apis.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: &api, MaxResults: aws.String("500")})
		if err != nil {
			t.Fatalf("list the integrations of API %s: %v", api, err)
		}
		for _, in := range integrations.Items {
			if id := aws.ToString(in.IntegrationId); !known[id] {
				if _, err := apis.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: &api, IntegrationId: &id}); err != nil {
					t.Fatalf("delete the twin integration %s (%s) of API %s: %v", id, aws.ToString(in.IntegrationUri), api, err)
				}
				twin(byAPI[api], "aws_apigatewayv2_integration", aws.ToString(in.IntegrationUri), id)
			}
		}
		authorizers, err := apis.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: &api, MaxResults: aws.String("500")})
		if err != nil {
			t.Fatalf("list the authorizers of API %s: %v", api, err)
		}
		for _, a := range authorizers.Items {
			if id := aws.ToString(a.AuthorizerId); !known[id] {
				if _, err := apis.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: &api, AuthorizerId: &id}); err != nil {
					t.Fatalf("delete the twin authorizer %s (%s) of API %s: %v", id, aws.ToString(a.Name), api, err)
				}
				twin(byAPI[api], "aws_apigatewayv2_authorizer", aws.ToString(a.Name), id)
			}
		}
	}
	return twins
}

// leftovers lists what the emulator still holds under prefix: tables,
// functions, roles, log groups, APIs, secrets, state machines, the JWKS
// parameter, queues, the event bus and its archive, and event source
// mappings (which outlive their function).
func leftovers(ctx context.Context, t *testing.T, prefix string) []string {
	t.Helper()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Errorf("leftovers: %v", err)
		return nil
	}
	var left []string
	add := func(kind, name string) {
		if strings.HasPrefix(name, prefix+"-") || strings.HasPrefix(name, prefix+"/") || strings.HasPrefix(name, "/"+prefix+"/") ||
			strings.HasPrefix(name, "/aws/lambda/"+prefix+"-") || strings.HasPrefix(name, "/aws/apigateway/"+prefix+"-") ||
			strings.HasPrefix(name, "/aws/vendedlogs/states/"+prefix+"-") {
			left = append(left, kind+" "+name)
		}
	}
	fail := func(what string, err error) { t.Errorf("leftovers: list %s: %v", what, err) }

	tables, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		fail("tables", err)
	} else {
		for _, n := range tables.TableNames {
			add("table", n)
		}
	}
	for p := lambda.NewListFunctionsPaginator(lambda.NewFromConfig(cfg), &lambda.ListFunctionsInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("functions", err)
			break
		}
		for _, f := range page.Functions {
			add("function", aws.ToString(f.FunctionName))
		}
	}
	for p := iam.NewListRolesPaginator(iam.NewFromConfig(cfg), &iam.ListRolesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("roles", err)
			break
		}
		for _, r := range page.Roles {
			add("role", aws.ToString(r.RoleName))
		}
	}
	for p := cloudwatchlogs.NewDescribeLogGroupsPaginator(cloudwatchlogs.NewFromConfig(cfg), &cloudwatchlogs.DescribeLogGroupsInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("log groups", err)
			break
		}
		for _, g := range page.LogGroups {
			add("log group", aws.ToString(g.LogGroupName))
		}
	}
	apis, err := apigatewayv2.NewFromConfig(cfg).GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		fail("APIs", err)
	} else {
		for _, a := range apis.Items {
			add("API", aws.ToString(a.Name))
		}
	}
	for p := secretsmanager.NewListSecretsPaginator(secretsmanager.NewFromConfig(cfg), &secretsmanager.ListSecretsInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("secrets", err)
			break
		}
		for _, s := range page.SecretList {
			add("secret", aws.ToString(s.Name))
		}
	}
	for p := sfn.NewListStateMachinesPaginator(sfn.NewFromConfig(cfg), &sfn.ListStateMachinesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("state machines", err)
			break
		}
		for _, m := range page.StateMachines {
			add("state machine", aws.ToString(m.Name))
		}
	}
	for p := ssm.NewDescribeParametersPaginator(ssm.NewFromConfig(cfg), &ssm.DescribeParametersInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("parameters", err)
			break
		}
		for _, prm := range page.Parameters {
			add("parameter", aws.ToString(prm.Name))
		}
	}
	for p := sqs.NewListQueuesPaginator(sqs.NewFromConfig(cfg), &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix + "-")}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("queues", err)
			break
		}
		for _, u := range page.QueueUrls {
			add("queue", u[strings.LastIndex(u, "/")+1:])
		}
	}
	buckets, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String(prefix + "-")})
	if err != nil {
		fail("buckets", err)
	} else {
		for _, b := range buckets.Buckets {
			add("bucket", aws.ToString(b.Name))
		}
	}
	topics, err := sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		fail("topics", err)
	} else {
		for _, tp := range topics.Topics {
			arn := aws.ToString(tp.TopicArn)
			add("topic", arn[strings.LastIndex(arn, ":")+1:])
		}
	}
	cw := cloudwatch.NewFromConfig(cfg)
	// The dashboard is named the prefix itself; looked up, not listed:
	// MiniStack answers ListDashboards with a timestamp the Go SDK cannot
	// decode (localstack/README.md).
	if _, err := cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(prefix)}); err == nil {
		left = append(left, "dashboard "+prefix)
	} else if !awserr.HasCode(err, "ResourceNotFound", "ResourceNotFoundException") {
		fail("dashboard", err)
	}
	if alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix + "-")}); err != nil {
		fail("alarms", err)
	} else {
		for _, a := range alarms.MetricAlarms {
			add("alarm", aws.ToString(a.AlarmName))
		}
	}
	events := eventbridge.NewFromConfig(cfg)
	buses, err := events.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{NamePrefix: aws.String(prefix + "-")})
	if err != nil {
		fail("event buses", err)
	} else {
		for _, b := range buses.EventBuses {
			add("event bus", aws.ToString(b.Name))
			// A rule goes with its bus; one left on a bus left behind is
			// worth naming too.
			rules, err := events.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: b.Name})
			if err != nil {
				fail("rules", err)
				continue
			}
			for _, r := range rules.Rules {
				add("rule", aws.ToString(r.Name))
			}
		}
	}
	archives, err := events.ListArchives(ctx, &eventbridge.ListArchivesInput{NamePrefix: aws.String(prefix + "-")})
	if err != nil {
		fail("archives", err)
	} else {
		for _, a := range archives.Archives {
			add("archive", aws.ToString(a.ArchiveName))
		}
	}
	for p := lambda.NewListEventSourceMappingsPaginator(lambda.NewFromConfig(cfg), &lambda.ListEventSourceMappingsInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			fail("event source mappings", err)
			break
		}
		for _, m := range page.EventSourceMappings {
			// arn:aws:lambda:<region>:<account>:function:<name>
			fn := aws.ToString(m.FunctionArn)
			if strings.HasPrefix(fn[strings.LastIndex(fn, ":")+1:], prefix+"-") {
				left = append(left, fmt.Sprintf("event source mapping %s (%s -> %s)", aws.ToString(m.UUID), aws.ToString(m.EventSourceArn), fn))
			}
		}
	}
	return left
}

// terraform runs the terraform binary in one working directory.
type terraform struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

// output runs terraform with args and returns its combined output. An
// expired ctx interrupts it as Ctrl-C does, so it releases its state lock
// and stops its provider, and kills it 30 s later if it has not stopped.
func (tf *terraform) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tf.bin, append([]string{"-chdir=" + tf.dir}, args...)...)
	cmd.Env = append(os.Environ(), tf.env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("terraform %s: %w (%v)", args[0], ctx.Err(), err)
	}
	return out, err
}

// outputWatching is output, with each line of terraform's output handed to
// watch as it comes.
func (tf *terraform) outputWatching(ctx context.Context, watch func(line string), args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tf.bin, append([]string{"-chdir=" + tf.dir}, args...)...)
	cmd.Env = append(os.Environ(), tf.env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out bytes.Buffer
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			out.Write(sc.Bytes())
			out.WriteByte('\n')
			watch(sc.Text())
		}
		_, _ = io.Copy(&out, pr) // a line past the buffer: keep the rest
	}()
	err := cmd.Run()
	pw.Close()
	<-scanned
	if ctx.Err() != nil {
		err = fmt.Errorf("terraform %s: %w (%v)", args[0], ctx.Err(), err)
	}
	return out.Bytes(), err
}

// permissionStalls heals one loss the apply cannot get past by itself:
// the emulator applies an AddPermission and loses its answer; the
// provider's SDK sends it again and meets the statement its first attempt
// added (ResourceConflictException), which the provider reads as an
// update still in progress and retries every 10 s for minutes, longer than
// the apply may take. (AWS answers a repeated statement id the same way,
// so the provider would stall there too; only there it hardly loses an
// answer.) A permission still creating after stallAfter is such a stall:
// its statement, which nothing in the state knows yet, is removed, and the
// provider's next retry adds it. The retry's own answer can be lost the
// same way, so a permission still stalled stallAfter after its healing is
// healed again, up to maxHeals times.
type permissionStalls struct {
	t        *testing.T
	prefix   string
	mu       sync.Mutex
	healedAt map[string][]time.Duration // by resource address: how long it had been creating at each healing
	failed   []string                   // healings that did not happen, and why
}

const (
	stallAfter = 30 * time.Second
	maxHeals   = 3
)

// permissionStallRE matches a permission still creating: its address, the
// function of a route's permission, and how long. The authorizer's
// permission has a count (modules/http_api), so its address ends in [0].
var permissionStallRE = regexp.MustCompile(`^(module\.http_api\.aws_lambda_permission\.(?:this\["([a-z0-9-]+)"\]|authorizer\[0\])): Still creating\.\.\. \[(?:(\d+)m)?(\d+)s elapsed\]`)

func newPermissionStalls(t *testing.T, prefix string) *permissionStalls {
	return &permissionStalls{t: t, prefix: prefix, healedAt: map[string][]time.Duration{}}
}

func (p *permissionStalls) watch(line string) {
	m := permissionStallRE.FindStringSubmatch(line)
	if m == nil {
		return
	}
	minutes, _ := strconv.Atoi(m[3])
	seconds, _ := strconv.Atoi(m[4])
	elapsed := time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	p.mu.Lock()
	defer p.mu.Unlock()
	heals := p.healedAt[m[1]]
	due := stallAfter
	if len(heals) > 0 {
		due = heals[len(heals)-1] + stallAfter
	}
	if elapsed < due || len(heals) == maxHeals {
		return
	}
	fail := func(err error) { p.failed = append(p.failed, fmt.Sprintf("%s at %s: %v", m[1], elapsed, err)) }
	set, err := manifest.Load(repoRoot)
	if err != nil {
		fail(err)
		return
	}
	fn, sid := m[2], deployment.RoutePermissionID
	if fn == "" {
		fn, sid = set.Authorizer().Name, deployment.AuthorizerPermissionID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		fail(err)
		return
	}
	if _, err := lambda.NewFromConfig(cfg).RemovePermission(ctx, &lambda.RemovePermissionInput{
		FunctionName: aws.String(naming.Function(p.prefix, fn)), StatementId: aws.String(sid),
	}); err != nil {
		fail(fmt.Errorf("removing statement %s: %w", sid, err))
		return
	}
	p.healedAt[m[1]] = append(heals, elapsed)
}

// report says, for the test's report, which stalls were healed and when,
// and which healings failed.
func (p *permissionStalls) report() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var notes []string
	for _, address := range slices.Sorted(maps.Keys(p.healedAt)) {
		var at []string
		for _, d := range p.healedAt[address] {
			at = append(at, d.String())
		}
		notes = append(notes, fmt.Sprintf("the emulator lost the response to the AddPermission of %s, and the provider's retry met its own statement: "+
			"the statement removed (after %s creating), so the retry added it", address, strings.Join(at, ", ")))
	}
	for _, f := range p.failed {
		notes = append(notes, "a stalled permission could not be healed: "+f)
	}
	return notes
}

func (tf *terraform) mustOutput(ctx context.Context, args ...string) []byte {
	tf.t.Helper()
	out, err := tf.output(ctx, args...)
	if err != nil {
		tf.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// goCmd runs the go command from the repository root with extra
// environment, failing with its output.
func goCmd(ctx context.Context, t *testing.T, env []string, args ...string) error {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(out, 80))
	}
	return nil
}

// report is the one paragraph make test prints about this test: what ran
// and how long each phase took, or why it skipped. It goes to the file
// named by $SHOP_TERRAFORM_REPORT when the test ends, however it ends.
type report struct {
	t         *testing.T
	prefix    string
	provider  string
	resources string
	phases    []string
	notes     []string
	skipped   string
	failedAt  string
}

func newReport(t *testing.T) *report {
	r := &report{t: t}
	t.Cleanup(r.write)
	return r
}

// skip ends the test as skipped, with why in the report.
func (r *report) skip(why string) {
	r.t.Helper()
	r.skipped = why
	r.t.Skip("TERRAFORM NOT APPLIED: " + why)
}

// measure runs one phase and records its time; it records where the test
// failed when f fails, and returns f's error.
func (r *report) measure(name string, f func() error) error {
	start := time.Now()
	err := f()
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		r.phases = append(r.phases, fmt.Sprintf("%s FAILED after %v", name, took))
		if r.failedAt == "" {
			r.failedAt = name
		}
		return err
	}
	r.phases = append(r.phases, fmt.Sprintf("%s %v", name, took))
	return nil
}

// phase is measure for a phase the test cannot go on without.
func (r *report) phase(name string, f func() error) {
	r.t.Helper()
	if err := r.measure(name, f); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
}

func (r *report) note(s string) { r.notes = append(r.notes, s) }

// verdict notes the first line of the report file an end-to-end run on the
// Terraform stack wrote (kind names the report, what its subject), and
// fails the test when it is missing or does not end in pass.
func (r *report) verdict(t *testing.T, file, kind, what, pass string) {
	t.Helper()
	switch verdict := firstLine(file); {
	case verdict == "":
		t.Errorf("the end-to-end run against the Terraform stack wrote no %s report (%s)", kind, file)
	case !strings.HasSuffix(verdict, pass):
		t.Errorf("%s on the Terraform stack: %s", what, verdict)
		r.note(verdict)
	default:
		r.note(verdict)
	}
}

func (r *report) write() {
	var text string
	switch {
	case r.skipped != "":
		text = "terraform: SKIPPED: " + r.skipped
	default:
		verdict := "passed"
		if r.t.Failed() {
			verdict = "FAILED"
			if r.failedAt != "" {
				verdict += " at " + r.failedAt
			}
		}
		what := "infra/ on"
		if r.resources != "" {
			what = "infra/ (" + r.resources + " resources) applied to"
		}
		text = fmt.Sprintf("terraform: %s: %s the emulator as prefix %s with the %s; %s; %s.",
			verdict, what, r.prefix, r.provider, strings.Join(r.phases, ", "), strings.Join(r.notes, "; "))
	}
	r.t.Log(text)
	if path := os.Getenv("SHOP_TERRAFORM_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(text+"\n"), 0o644); err != nil {
			r.t.Errorf("write the Terraform report: %v", err)
		}
	}
}

// copyConfig copies the Terraform configuration (every .tf file, the
// model and the lock file) from src to dst.
func copyConfig(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return nil
		}
		name := e.Name()
		if !strings.HasSuffix(name, ".tf") && name != "deployment.json" && name != ".terraform.lock.hcl" {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		writeTestFile(t, filepath.Join(dst, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lambdaArchitecture is the Lambda name of this machine's architecture,
// which the zips are built for.
func lambdaArchitecture(t *testing.T) string {
	t.Helper()
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	t.Skipf("no Lambda architecture for GOARCH %s", runtime.GOARCH)
	return ""
}

// randomSuffix keeps this stack apart from any other on the emulator,
// left-overs of an interrupted run included.
func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, string(b))
}

// countAdded reads "Apply complete! Resources: 71 added, ..." back.
// lostCreate is a resource the apply created, though the provider's retry
// of the create was told it exists already.
type lostCreate struct{ address, id string }

var (
	createConflictRE = regexp.MustCompile(`(?s)^creating [^(\n]+\(([^)\n]+)\): .*(AlreadyExists|already exists|EntityAlreadyExists)`)
	diagAddressRE    = regexp.MustCompile(`(?m)^\s*with (\S+),$`)
)

// lostCreates finds, in a failed apply's output, the creates that failed
// only because their resource exists: each diagnostic names the resource's
// address ("with module.x.aws_y.this,") and its id in the summary
// ("creating CloudWatch Logs Log Group (<name>): ... already exists").
func lostCreates(out []byte) []lostCreate {
	var found []lostCreate
	for _, diag := range strings.Split(string(out), "Error: ")[1:] {
		m := createConflictRE.FindStringSubmatch(diag)
		a := diagAddressRE.FindStringSubmatch(diag)
		if m == nil || a == nil {
			continue
		}
		found = append(found, lostCreate{address: a[1], id: m[1]})
	}
	return found
}

func countAdded(out []byte) string {
	_, rest, ok := bytes.Cut(out, []byte("Resources: "))
	if !ok {
		return ""
	}
	n, _, _ := bytes.Cut(rest, []byte(" added"))
	return string(n)
}

// slowestCreates names the n creates of an apply's output that took
// longest ("module.x.aws_y.z: Creation complete after 1m2s [id=...]"), the
// first place to look when the apply phase grows.
func slowestCreates(out []byte, n int) string {
	type create struct {
		address string
		took    time.Duration
	}
	var creates []create
	for _, m := range creationComplete.FindAllSubmatch(out, -1) {
		if d, err := time.ParseDuration(string(m[2])); err == nil {
			creates = append(creates, create{string(m[1]), d})
		}
	}
	slices.SortStableFunc(creates, func(a, b create) int { return cmp.Compare(b.took, a.took) })
	var names []string
	for _, c := range creates[:min(n, len(creates))] {
		names = append(names, c.address+" "+c.took.String())
	}
	return strings.Join(names, ", ")
}

var creationComplete = regexp.MustCompile(`(?m)^(\S+): Creation complete after (\w+)`)

// planChanges keeps the part of a plan that says what would change.
func planChanges(out []byte) string {
	s := string(out)
	if i := strings.Index(s, "Terraform will perform the following actions"); i >= 0 {
		s = s[i:]
	}
	return lastLines([]byte(s), 120)
}

func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

func TestLostCreates(t *testing.T) {
	out := []byte(`module.x: Creating...

Error: creating CloudWatch Logs Log Group (/aws/lambda/tf1-users-update): operation error CloudWatch Logs: CreateLogGroup, https response error StatusCode: 400, RequestID: 6e, ResourceAlreadyExistsException: The specified log group already exists: /aws/lambda/tf1-users-update

  with module.function["users-update"].aws_cloudwatch_log_group.this,
  on modules/function/main.tf line 12, in resource "aws_cloudwatch_log_group" "this":
  12: resource "aws_cloudwatch_log_group" "this" {

Error: creating IAM Role (tf1-users-get): operation error IAM: CreateRole, https response error StatusCode: 500, InternalFailure

  with module.function["users-get"].aws_iam_role.this,
  on modules/function/main.tf line 3, in resource "aws_iam_role" "this":

Error: creating EventBridge Event Bus (tf1-events): operation error EventBridge: CreateEventBus, https response error StatusCode: 400, RequestID: 7a, ResourceAlreadyExistsException: Event bus tf1-events already exists

  with module.event_bus[0].aws_cloudwatch_event_bus.this,
  on modules/event_bus/main.tf line 3, in resource "aws_cloudwatch_event_bus" "this":
`)
	got := lostCreates(out)
	want := []lostCreate{
		{address: `module.function["users-update"].aws_cloudwatch_log_group.this`, id: "/aws/lambda/tf1-users-update"},
		{address: `module.event_bus[0].aws_cloudwatch_event_bus.this`, id: "tf1-events"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lostCreates = %+v, want %+v (the 500 is no lost response)", got, want)
	}
}

func TestPermissionStallLines(t *testing.T) {
	for line, want := range map[string][]string{
		`module.http_api.aws_lambda_permission.this["platform-ingest"]: Still creating... [30s elapsed]`: {`module.http_api.aws_lambda_permission.this["platform-ingest"]`, "platform-ingest", "", "30"},
		`module.http_api.aws_lambda_permission.authorizer[0]: Still creating... [1m10s elapsed]`:         {"module.http_api.aws_lambda_permission.authorizer[0]", "", "1", "10"},
		`module.function["users-get"].aws_iam_role.this: Still creating... [40s elapsed]`:                nil,
		`module.http_api.aws_lambda_permission.this["users-get"]: Creation complete after 1s`:            nil,
	} {
		m := permissionStallRE.FindStringSubmatch(line)
		if want == nil {
			if m != nil {
				t.Errorf("%q matched: %q", line, m)
			}
			continue
		}
		if m == nil || !slices.Equal(m[1:], want) {
			t.Errorf("%q: %q, want %q", line, m, want)
		}
	}
}

// The stall watcher knows every permission of modules/http_api by the
// address Terraform prints for it: a count or a for_each added to one of
// them would otherwise blind it (as a count on the authorizer's once did).
func TestPermissionStallsKnowEveryPermission(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(infraDir, "modules", "http_api", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	resources := regexp.MustCompile(`(?m)^resource "aws_lambda_permission" "(\w+)" \{\n\s*(count|for_each)?`).FindAllSubmatch(src, -1)
	if len(resources) != 2 {
		t.Fatalf("modules/http_api has %d aws_lambda_permission resources, want 2 (the routes' and the authorizer's)", len(resources))
	}
	for _, r := range resources {
		address := "module.http_api.aws_lambda_permission." + string(r[1])
		switch string(r[2]) {
		case "count":
			address += "[0]"
		case "for_each":
			address += `["users-get"]`
		}
		if line := address + ": Still creating... [40s elapsed]"; !permissionStallRE.MatchString(line) {
			t.Errorf("the stall watcher does not see %q", line)
		}
	}
}

func TestSlowestCreates(t *testing.T) {
	out := []byte(`module.api.aws_apigatewayv2_api.this: Creation complete after 1s [id=abc]
module.function["a"].aws_lambda_function.this: Still creating... [10s elapsed]
module.function["a"].aws_lambda_function.this: Creation complete after 1m2s [id=shop-a]
aws_dynamodb_table.this["orders"]: Creation complete after 12s [id=shop-orders]
Apply complete! Resources: 3 added, 0 changed, 0 destroyed.
`)
	want := `module.function["a"].aws_lambda_function.this 1m2s, aws_dynamodb_table.this["orders"] 12s`
	if got := slowestCreates(out, 2); got != want {
		t.Errorf("slowestCreates = %q, want %q", got, want)
	}
	if got := slowestCreates([]byte("nothing created"), 3); got != "" {
		t.Errorf("slowestCreates of no creates = %q, want empty", got)
	}
}
