// Package knative runs the end-to-end suite (package tests) against the HTTP
// functions served in Knative mode, without a cluster: each function is
// built with the Dockerfile's own go build line, started as a plain process
// with $PORT and no AWS_LAMBDA_RUNTIME_API (shared/runtime then serves it as
// on Knative) and the model's environment, on the tables of the stack the
// local deployer deployed; a router in front serves exactly the generated
// HTTPRoutes (infra/knative/httproutes.yaml), as the cluster's Gateway
// would. The suite runs unchanged with SHOP_API_URL pointing at the router;
// the few tests about API Gateway or Lambda themselves skip, saying why.
//
// Then it checks what Lambda's run proves through CloudWatch: every AWS call
// each process recorded is allowed by the model's role policy, which is
// what the function's ServiceAccount is bound to on a cluster.
package knative

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.yaml.in/yaml/v3"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/tests/iampolicy"
	"github.com/shop-serverless/shop/tests/leastprivilege"
)

const (
	root         = "../.."
	knativeDir   = root + "/infra/knative"
	startTimeout = 15 * time.Second
	// drainTimeout bounds how long a process may take to exit after
	// SIGTERM: shared/runtime drains within SHUTDOWN_TIMEOUT (10 s by
	// default), and with no request in flight it exits at once.
	drainTimeout = 5 * time.Second
	suiteTimeout = 5 * time.Minute
)

func prefix() string {
	if p := os.Getenv("SHOP_PREFIX"); p != "" {
		return p
	}
	return "shop"
}

func TestEndToEndOnKnative(t *testing.T) {
	testenv.RequireEmulator(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requireDeployedStack(t, cfg)

	services := readServices(t)
	routes := readRoutes(t)
	build := dockerBuild(t)
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(id.Account)
	model, err := deployment.Build(set, deployment.Params{Prefix: prefix(), Region: cfg.Region, Account: account})
	if err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	bins := buildFunctions(t, build, services)
	t.Logf("built %d functions with the Dockerfile's go build in %v", len(bins), time.Since(began).Round(10*time.Millisecond))

	// The router's address is known before the functions start: it is
	// their binding to the stack's API (what the shop-bindings ConfigMap
	// gives them on a cluster), and the simulator behind it the provider.
	routerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	routerURL := "http://" + routerLn.Addr().String()
	bindings := map[string]string{
		deployment.BindingAPIURL:             routerURL,
		deployment.BindingPaymentProviderURL: routerURL + deployment.PaymentSimulatorPath,
	}

	began = time.Now()
	procs := make(map[string]*process, len(services)) // by Knative Service name
	var urls []string
	for _, svc := range services {
		fn := model.Function(svc.function)
		if fn == nil {
			t.Fatalf("infra/knative declares %s, which the model does not have: run make generate", svc.name)
		}
		p := start(t, bins[svc.name], fn, bindings)
		procs[svc.name] = p
		urls = append(urls, fn.Name+"="+p.url)
	}
	t.Logf("started %d functions in Knative mode, all ready, in %v", len(procs), time.Since(began).Round(10*time.Millisecond))
	router := serveRoutes(t, routes, procs, routerLn)

	began = time.Now()
	suite := exec.Command("go", "test", "-count=1", "-v", "-parallel", "8", "-timeout", suiteTimeout.String(), "./tests")
	suite.Dir = root
	suite.Env = append(withoutVars(os.Environ(), "SHOP_API_URL", "SHOP_PLATFORM", "SHOP_SERVICE_URLS", "SHOP_PRIVILEGE_REPORT"),
		"SHOP_API_URL="+router,
		"SHOP_PLATFORM=knative",
		"SHOP_SERVICE_URLS="+strings.Join(urls, ","),
	)
	out, err := suite.CombinedOutput()
	if err != nil {
		t.Fatalf("end-to-end suite on Knative: %v\n%s", err, out)
	}
	// The skips, each with its reason, and the verdicts; -v shows the rest.
	var summary []string
	lines := strings.Split(string(out), "\n")
	for _, line := range lines {
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "--- SKIP"), strings.Contains(line, "SKIPPED"):
			summary = append(summary, line)
		case strings.HasPrefix(line, "least privilege:"), strings.HasPrefix(line, "ok "):
			summary = append(summary, line)
		}
	}
	t.Logf("end-to-end suite on Knative passed in %v:\n%s", time.Since(began).Round(10*time.Millisecond), strings.Join(summary, "\n"))

	// Knative sends SIGTERM and expects a clean drain; it also flushes
	// what each process recorded before the check reads it.
	for _, name := range slices.Sorted(maps.Keys(procs)) {
		if err := procs[name].stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	checkLeastPrivilege(t, cfg, account, model, procs)
}

// requireDeployedStack fails (or skips, outside make test) unless the local
// deployer has deployed the stack these functions store into.
func requireDeployedStack(t *testing.T, cfg aws.Config) {
	t.Helper()
	table := naming.Table(prefix(), "users")
	_, err := dynamodb.NewFromConfig(cfg).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
	if err == nil {
		return
	}
	if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
		t.Fatalf("no deployed stack (table %s): %v", table, err)
	}
	t.Skipf("end-to-end on Knative: no deployed stack (table %s): run `make run` first", table)
}

// knService is what the harness reads of a generated Knative Service.
type knService struct {
	name     string // the Knative Service: shop-users-get
	function string // the manifest name: users-get
}

// readServices returns the Knative Services of the HTTP functions in
// infra/knative, ordered by name.
func readServices(t *testing.T) []knService {
	t.Helper()
	var out []knService
	for _, doc := range readDocs(t) {
		var obj struct {
			Kind     string
			Metadata struct {
				Name   string
				Labels map[string]string
			}
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Env []struct{ Name, Value string }
						}
					}
				}
			}
		}
		if err := doc.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind != "Service" || obj.Metadata.Labels["app.kubernetes.io/component"] != manifest.KindHTTP {
			continue
		}
		svc := knService{name: obj.Metadata.Name}
		for _, c := range obj.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "SHOP_FUNCTION" {
					svc.function = e.Value
				}
			}
		}
		if svc.function == "" {
			t.Fatalf("Knative Service %s has no SHOP_FUNCTION", svc.name)
		}
		out = append(out, svc)
	}
	if len(out) == 0 {
		t.Fatal("no HTTP function in infra/knative")
	}
	slices.SortFunc(out, func(a, b knService) int { return strings.Compare(a.name, b.name) })
	return out
}

// route is one generated HTTPRoute rule, as the router serves it.
type route struct {
	name    string
	method  string
	exact   string         // path, for an Exact match
	pattern *regexp.Regexp // for a RegularExpression match
	backend string         // Knative Service name
}

func (r route) matches(req *http.Request) bool {
	if req.Method != r.method {
		return false
	}
	// A gateway matches the path as it was sent, escapes included.
	path := req.URL.EscapedPath()
	if r.pattern != nil {
		return r.pattern.MatchString(path)
	}
	return path == r.exact
}

// readRoutes reads every HTTPRoute of infra/knative. It refuses what it
// does not implement, so the router cannot serve less than the files say.
func readRoutes(t *testing.T) []route {
	t.Helper()
	var out []route
	for _, doc := range readDocs(t) {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				Rules []struct {
					Matches []struct {
						Method string
						Path   struct{ Type, Value string }
					}
					Filters []struct {
						Type       string
						URLRewrite struct{ Hostname string } `yaml:"urlRewrite"`
					}
					BackendRefs []struct {
						Name string
						Port int
					} `yaml:"backendRefs"`
				}
			}
		}
		if err := doc.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind != "HTTPRoute" {
			continue
		}
		for _, rule := range obj.Spec.Rules {
			if len(rule.BackendRefs) != 1 {
				t.Fatalf("HTTPRoute %s: %d backends; the router serves one per rule", obj.Metadata.Name, len(rule.BackendRefs))
			}
			backend := rule.BackendRefs[0].Name
			for _, f := range rule.Filters {
				// The rewrite only names the Knative Service to Knative's
				// ingress; the router reaches the process directly.
				if f.Type != "URLRewrite" || !strings.HasPrefix(f.URLRewrite.Hostname, backend+".") {
					t.Fatalf("HTTPRoute %s: filter %+v is not the hostname rewrite to its backend", obj.Metadata.Name, f)
				}
			}
			for _, m := range rule.Matches {
				r := route{name: obj.Metadata.Name, method: m.Method, backend: backend}
				switch m.Path.Type {
				case "Exact":
					r.exact = m.Path.Value
				case "RegularExpression":
					re, err := regexp.Compile(m.Path.Value)
					if err != nil {
						t.Fatalf("HTTPRoute %s: %v", obj.Metadata.Name, err)
					}
					r.pattern = re
				default:
					t.Fatalf("HTTPRoute %s: path match %q is not implemented by the router", obj.Metadata.Name, m.Path.Type)
				}
				if r.method == "" {
					t.Fatalf("HTTPRoute %s: a match without a method", obj.Metadata.Name)
				}
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no HTTPRoute in infra/knative")
	}
	// Gateway API precedence: an Exact path match wins over any other.
	slices.SortStableFunc(out, func(a, b route) int {
		switch {
		case a.pattern == nil && b.pattern != nil:
			return -1
		case a.pattern != nil && b.pattern == nil:
			return 1
		}
		return 0
	})
	return out
}

func readDocs(t *testing.T) []*yaml.Node {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(knativeDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []*yaml.Node
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				break
			}
			docs = append(docs, &n)
		}
	}
	return docs
}

// dockerBuild returns the go build line of infra/knative/Dockerfile: its
// environment assignments and its arguments, with $FUNCTION and the output
// path left as they are written there.
func dockerBuild(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(knativeDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "RUN ") || !strings.Contains(line, " go build ") {
			continue
		}
		words := shellWords(t, strings.TrimPrefix(line, "RUN "))
		for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
			words = words[1:] // BuildKit cache mounts: nothing to run here
		}
		found = words
	}
	if found == nil {
		t.Fatal("infra/knative/Dockerfile has no RUN ... go build line")
	}
	return found
}

// shellWords splits a shell command line that uses only spaces and double
// quotes (the Dockerfile's build line), and fails on anything else.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	if strings.ContainsAny(s, "'\\`;|&<>") {
		t.Fatalf("the Dockerfile's build line %q uses shell syntax the test does not interpret", s)
	}
	var words []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// buildFunctions runs the Dockerfile's go build for every service, for
// this machine, two at a time, and returns the binaries by service name.
func buildFunctions(t *testing.T, line []string, services []knService) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	errs := make([]error, len(services))
	for i, svc := range services {
		fn := findFunction(t, svc.function)
		out := filepath.Join(dir, svc.name)
		var env, args []string
		for _, w := range line {
			w = strings.ReplaceAll(w, "$FUNCTION", fn)
			w = strings.ReplaceAll(w, "/out/function", out)
			if len(args) == 0 && strings.Contains(w, "=") && !strings.HasPrefix(w, "-") {
				env = append(env, w)
				continue
			}
			args = append(args, w)
		}
		if len(args) < 2 || args[0] != "go" || args[1] != "build" {
			t.Fatalf("the Dockerfile's build line runs %v, not go build", args)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), env...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s (%v): %v\n%s", svc.name, cmd.Args, err, msg)
				return
			}
			mu.Lock()
			bins[svc.name] = out
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return bins
}

// findFunction is the directory below functions/ of a manifest name, the
// Dockerfile's FUNCTION.
func findFunction(t *testing.T, name string) string {
	t.Helper()
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range set.Functions() {
		if fn.Name == name {
			return strings.TrimPrefix(fn.Dir, "functions/")
		}
	}
	t.Fatalf("no function %s in the manifests", name)
	return ""
}

type process struct {
	name   string
	url    string
	cmd    *exec.Cmd
	stdout string // the process's stdout: its logs and the AWS calls it recorded
	done   chan error
}

// start runs bin as Knative runs the container: PORT set, no Lambda
// Runtime API, the function's Knative environment from the model; plus the local
// emulator's endpoint and credentials, and the two switches the local
// deployer also sets (faults, so the suite's fault tests work; recording,
// for the least-privilege check).
func start(t *testing.T, bin string, fn *deployment.Function, bindings map[string]string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	env := withoutVars(os.Environ(), "AWS_LAMBDA_RUNTIME_API", "PORT", "K_SINK")
	env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "SHOP_") })
	vars := fn.KnativeEnvironment()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Bindings)) {
		v, ok := bindings[fn.Bindings[k]]
		if !ok {
			t.Fatalf("%s: binding %s has no value in this test", fn.Name, fn.Bindings[k])
		}
		env = append(env, k+"="+v)
	}
	env = append(env, fmt.Sprintf("PORT=%d", port), faults.EnvSwitch+"=1", awscalls.EnvSwitch+"=1")

	stdout := filepath.Join(t.TempDir(), fn.Name+".log")
	logFile, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: fn.Name, url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, stdout: stdout, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})

	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(startTimeout); ; {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			log, _ := os.ReadFile(stdout)
			t.Fatalf("%s exited before it was ready: %v\n%s", fn.Name, err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on /readyz within %v", fn.Name, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM, as Kubernetes does, and expects a clean exit.
func (p *process) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			return fmt.Errorf("exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(drainTimeout):
		return fmt.Errorf("still running %v after SIGTERM", drainTimeout)
	}
}

// serveRoutes starts the router: the generated HTTPRoutes in front of the
// processes, as the cluster's Gateway is. Like a gateway it appends the
// client's address to X-Forwarded-For, which is what runtime.ClientIP
// reads; the client is given an address of its own for this run, a
// documentation /64 that no other run uses, so that this run's wrong
// passwords do not spend the login budget of 127.0.0.1 that the suite's
// Lambda run, through API Gateway, spends at the same time.
func serveRoutes(t *testing.T, routes []route, procs map[string]*process, ln net.Listener) string {
	t.Helper()
	client := fmt.Sprintf("2001:db8:%x:%x::1", time.Now().UnixNano()&0xffff, os.Getpid()&0xffff)
	proxies := map[string]*httputil.ReverseProxy{}
	for _, r := range routes {
		p, ok := procs[r.backend]
		if !ok {
			t.Fatalf("HTTPRoute %s leads to %s, which is not an HTTP function's Knative Service", r.name, r.backend)
		}
		target, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		proxies[r.backend] = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header["X-Forwarded-For"] = append(pr.In.Header.Values("X-Forwarded-For"), client)
		}}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for _, r := range routes {
			if r.matches(req) {
				proxies[r.backend].ServeHTTP(w, req)
				return
			}
		}
		// What a Gateway answers when no route matches.
		http.NotFound(w, req)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// checkLeastPrivilege checks every AWS call the processes recorded against
// the role policy the model gives their function: on a cluster, the IAM
// role the function's ServiceAccount is bound to.
func checkLeastPrivilege(t *testing.T, cfg aws.Config, account string, model *deployment.Deployment, procs map[string]*process) {
	t.Helper()
	var fns []leastprivilege.Function
	for _, name := range slices.Sorted(maps.Keys(procs)) {
		p := procs[name]
		m := model.Function(p.name)
		doc, err := json.Marshal(m.Role.Policy)
		if err != nil {
			t.Fatal(err)
		}
		policy, err := iampolicy.Parse(m.Role.PolicyName, string(doc))
		if err != nil {
			t.Fatal(err)
		}
		fn := leastprivilege.Function{
			Name:      m.FunctionName,
			ARN:       fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, account, m.FunctionName),
			Recording: true,
			Policies:  []iampolicy.Policy{policy},
		}
		f, err := os.Open(p.stdout)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if c, ok := awscalls.ParseLine(sc.Text()); ok {
				fn.Calls = append(fn.Calls, c)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		fns = append(fns, fn)
	}
	report := leastprivilege.Check(context.Background(), fns, leastprivilege.NewStack(cfg))
	var out bytes.Buffer
	report.Write(&out)
	if report.Failed() {
		t.Fatalf("least privilege on Knative (calls of the processes against the model's role policies):\n%s", out.String())
	}
	t.Logf("least privilege on Knative (calls of the processes against the model's role policies):\n%s", out.String())
}

func withoutVars(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}
