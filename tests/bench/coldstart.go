package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// coldBudget is issue 12's budget: no function more than this over the
// hello world, median of the paired differences.
const coldBudget = 2.0 // ms

// coldTarget is one binary to start: a function, or the hello world.
type coldTarget struct {
	Name string
	Kind string
	Dir  string
	Bin  string
	Env  []string
}

// coldResult is one function's figures (milliseconds).
type coldResult struct {
	Function   string    `json:"function"`
	Kind       string    `json:"kind"`
	Pairs      int       `json:"pairs"`
	MedianOver float64   `json:"medianOverHelloMs"` // median of (function - hello), paired
	MinOver    float64   `json:"minOverHelloMs"`
	MaxOver    float64   `json:"maxOverHelloMs"`
	MedianFn   float64   `json:"medianMs"`      // the function alone, exec to first /next
	MedianHelo float64   `json:"medianHelloMs"` // its hello runs alone
	BinBytes   int64     `json:"binaryBytes"`
	ZipBytes   int64     `json:"zipBytes"`
	Diffs      []float64 `json:"diffsMs"`
	// The change against -coldstart-against's build of the same function:
	// median, min and max of (this - that), measured in the same rounds.
	VsAgainst *change `json:"vsAgainst,omitempty"`
	// Package initialisation (GODEBUG=inittrace=1), medians of initRuns runs.
	Init         initProfile `json:"packageInit"`
	InitOver     float64     `json:"packageInitOverHelloMs"`
	LargestInits string      `json:"largestInitsOverHello"`
}

// change is a function against its build from another revision, paired.
type change struct {
	Rev    string  `json:"rev"`
	Median float64 `json:"medianMs"`
	Min    float64 `json:"minMs"`
	Max    float64 `json:"maxMs"`
}

// buildAgainst builds targets from revision rev (git archive of it into
// dir/against) and returns the commit and the binaries, in targets' order.
func buildAgainst(ctx context.Context, root, dir, rev string, targets []coldTarget) (string, []*coldTarget, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return "", nil, fmt.Errorf("coldstart -coldstart-against %s: not a commit: %w", rev, err)
	}
	commit := strings.TrimSpace(string(out))
	tree := filepath.Join(dir, "against-tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return "", nil, err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", commit)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", tree)
	if untar.Stdin, err = archive.StdoutPipe(); err != nil {
		return "", nil, err
	}
	if err := untar.Start(); err != nil {
		return "", nil, err
	}
	if err := archive.Run(); err != nil {
		return "", nil, fmt.Errorf("git archive %s: %w", commit, err)
	}
	if err := untar.Wait(); err != nil {
		return "", nil, fmt.Errorf("untar %s: %w", commit, err)
	}
	against := make([]*coldTarget, len(targets))
	for i, t := range targets {
		against[i] = &coldTarget{Name: t.Name, Kind: t.Kind, Dir: t.Dir}
	}
	if err := buildTargets(ctx, tree, filepath.Join(dir, "against"), against); err != nil {
		return "", nil, fmt.Errorf("building %s: %w", commit, err)
	}
	return commit[:12], against, nil
}

// coldBefore is an earlier run's figures (a report.json), shown beside
// this run's: issue 12 asks for before and after.
type coldBefore struct {
	Source    string             `json:"source"`    // the file, and what it measured
	Generated string             `json:"generated"` // when
	Load      []string           `json:"loadDuring"`
	Over      map[string]float64 `json:"medianOverHelloMs"` // function -> its median over hello
	Init      map[string]float64 `json:"packageInitOverHelloMs"`
}

// loadBefore reads the coldstart figures out of a report.json.
func loadBefore(path string) (*coldBefore, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r struct {
		Generated string `json:"generated"`
		Sections  struct {
			Coldstart struct {
				Data coldData `json:"data"`
			} `json:"coldstart"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := r.Sections.Coldstart.Data
	if len(d.Functions) == 0 {
		return nil, fmt.Errorf("%s: no coldstart figures", path)
	}
	cb := &coldBefore{Source: path, Generated: r.Generated, Load: d.Load, Over: map[string]float64{}, Init: map[string]float64{}}
	for _, f := range d.Functions {
		cb.Over[f.Function] = f.MedianOver
		cb.Init[f.Function] = f.InitOver
	}
	return cb, nil
}

// coldData is what report.json keeps for the section.
type coldData struct {
	Before     *coldBefore  `json:"before,omitempty"`
	AgainstRev string       `json:"againstRev,omitempty"` // -coldstart-against, resolved
	GOARCH     string       `json:"goarch"`
	Pairs      int          `json:"pairs"`
	BudgetMs   float64      `json:"budgetMs"`
	Load       []string     `json:"loadDuring"` // /proc/loadavg before and after measuring
	Hello      coldResult   `json:"hello"`      // hello against hello: the method's own noise
	Functions  []coldResult `json:"functions"`
}

func coldstartSection(ctx context.Context, o options) (section, error) {
	if o.Pairs < 30 {
		return section{}, fmt.Errorf("coldstart: -pairs %d: the issue asks for at least 30", o.Pairs)
	}
	targets, err := coldTargets(o)
	if err != nil {
		return section{}, err
	}
	dir, err := os.MkdirTemp("", "shop-coldstart-")
	if err != nil {
		return section{}, err
	}
	defer os.RemoveAll(dir)
	hello := coldTarget{Name: "hello", Kind: "baseline", Dir: "tests/testdata/hello"}
	all := append([]*coldTarget{&hello}, ptrs(targets)...)
	if err := buildTargets(ctx, o.Root, dir, all); err != nil {
		return section{}, err
	}
	// With -coldstart-against, every function is also built from that
	// revision and measured in the same rounds, next to this tree's: the
	// paired difference shows a change of a few tenths of a millisecond
	// that two runs minutes apart on a loaded machine would bury.
	var against []*coldTarget
	var againstRev string
	if o.ColdAgainst != "" {
		if againstRev, against, err = buildAgainst(ctx, o.Root, dir, o.ColdAgainst, targets); err != nil {
			return section{}, err
		}
	}

	data := coldData{GOARCH: runtime.GOARCH, Pairs: o.Pairs, BudgetMs: coldBudget, Load: []string{loadAverage()}, AgainstRev: againstRev}
	if o.ColdBefore != "" {
		path := o.ColdBefore
		if !filepath.IsAbs(path) {
			path = filepath.Join(o.Root, path)
		}
		if data.Before, err = loadBefore(path); err != nil {
			return section{}, fmt.Errorf("coldstart -coldstart-before: %w", err)
		}
		data.Before.Source = o.ColdBefore
	}
	// Round-robin: pair i of every function runs before pair i+1 of any, so
	// a spell of load elsewhere on the machine lands on all functions alike
	// rather than on whichever was being measured.
	diffs := make([][]float64, len(all))
	fnMs := make([][]float64, len(all))
	helloMs := make([][]float64, len(all))
	vsAgainst := make([][]float64, len(all))
	for i := range o.Pairs {
		for j, t := range all {
			if err := ctx.Err(); err != nil {
				return section{}, err
			}
			// Alternate which of the pair starts first: whichever goes
			// second finds the binary's pages and the scheduler warmer.
			fnFirst := (i+j)%2 == 0
			// The runs of this round, in order: the function, its build
			// from -coldstart-against if any (in the middle, so the two
			// builds alternate ends as well), hello world; reversed every
			// other round.
			var f, g, h time.Duration
			runs := []func() error{
				func() (err error) { f, err = timeToNext(ctx, t.Bin, t.Env); return err },
			}
			if j > 0 && against != nil {
				runs = append(runs, func() (err error) { g, err = timeToNext(ctx, against[j-1].Bin, t.Env); return err })
			}
			runs = append(runs, func() (err error) { h, err = timeToNext(ctx, hello.Bin, nil); return err })
			if !fnFirst {
				slices.Reverse(runs)
			}
			for _, run := range runs {
				if err := run(); err != nil {
					return section{}, fmt.Errorf("coldstart %s: %w", t.Name, err)
				}
			}
			if j > 0 && against != nil {
				vsAgainst[j] = append(vsAgainst[j], ms(f-g))
			}
			diffs[j] = append(diffs[j], ms(f-h))
			fnMs[j] = append(fnMs[j], ms(f))
			helloMs[j] = append(helloMs[j], ms(h))
		}
	}
	data.Load = append(data.Load, loadAverage())
	var helloInit initProfile
	for j, t := range all {
		r := summarize(t.Name, t.Kind, diffs[j], fnMs[j], helloMs[j])
		if len(vsAgainst[j]) > 0 {
			r.VsAgainst = &change{Rev: againstRev, Median: median(vsAgainst[j]), Min: slices.Min(vsAgainst[j]), Max: slices.Max(vsAgainst[j])}
		}
		r.BinBytes, r.ZipBytes, err = sizes(t.Bin)
		if err != nil {
			return section{}, err
		}
		if r.Init, err = profileInit(ctx, t.Bin, t.Env); err != nil {
			return section{}, fmt.Errorf("coldstart %s inittrace: %w", t.Name, err)
		}
		if j == 0 {
			helloInit = r.Init
		}
		r.InitOver = r.Init.TotalMs - helloInit.TotalMs
		r.LargestInits = r.Init.largest(helloInit, 5)
		if j == 0 {
			data.Hello = r
		} else {
			data.Functions = append(data.Functions, r)
		}
	}
	return coldSectionOf(data), nil
}

// coldSectionOf renders the figures: pure, so the tests can check it.
func coldSectionOf(d coldData) section {
	rows := [][]string{}
	over := []string{}
	worst := coldResult{MedianOver: -1e9}
	for _, r := range append([]coldResult{d.Hello}, d.Functions...) {
		mark := ""
		if r.Function != d.Hello.Function {
			if r.MedianOver > coldBudget {
				mark = " **over**"
				over = append(over, fmt.Sprintf("%s %.2f", r.Function, r.MedianOver))
			}
			if r.MedianOver > worst.MedianOver {
				worst = r
			}
		}
		before := "-"
		if v, ok := d.Before.over(r.Function); ok {
			before = fmt.Sprintf("%.2f", v)
		}
		vs := "-"
		if c := r.VsAgainst; c != nil {
			vs = fmt.Sprintf("%+.2f (%+.2f to %+.2f)", c.Median, c.Min, c.Max)
		}
		rows = append(rows, []string{r.Function, r.Kind,
			fmt.Sprintf("%.2f%s", r.MedianOver, mark), before, vs, fmt.Sprintf("%.2f", r.MinOver), fmt.Sprintf("%.2f", r.MaxOver),
			fmt.Sprintf("%.2f", r.MedianFn), fmt.Sprintf("%.2f", r.MedianHelo),
			mib(r.BinBytes), mib(r.ZipBytes)})
	}
	md := markdownTable([]string{"function", "kind", "median over hello (ms)", "before", "change vs " + orDash(d.AgainstRev) + " (ms, paired)", "min", "max", "function alone (ms, median)", "hello alone (ms, median)", "binary (" + d.GOARCH + ")", "zip"}, rows)
	var initRows [][]string
	for _, r := range d.Functions {
		before := "-"
		if d.Before != nil {
			if v, ok := d.Before.Init[r.Function]; ok {
				before = fmt.Sprintf("%.2f", v)
			}
		}
		initRows = append(initRows, []string{r.Function, fmt.Sprintf("%.2f", r.Init.TotalMs), fmt.Sprintf("%.2f", r.InitOver), before, fmt.Sprintf("%.0f KiB", float64(r.Init.Bytes)/1024), orDash(r.LargestInits)})
	}
	md += fmt.Sprintf("\nPackage initialisation (GODEBUG=inittrace=1, medians of %d runs; hello world's is %.2f ms): what each function's imports cost before main runs, and the modules that cost most beyond hello world's.\n\n", initRuns, d.Hello.Init.TotalMs) +
		markdownTable([]string{"function", "package init (ms)", "over hello (ms)", "before", "allocated", "largest over hello (ms)"}, initRows)
	b := budget{Name: "cold start over hello world (worst function, median)", Limit: fmt.Sprintf("%.1f ms", coldBudget)}
	if len(d.Functions) > 0 {
		b.Measured = fmt.Sprintf("%.2f ms (%s)", worst.MedianOver, worst.Function)
		b.Held = len(over) == 0
		if !b.Held {
			b.WhyNot = fmt.Sprintf("%d of %d functions over: %s. %s", len(over), len(d.Functions), strings.Join(over, ", "), whereItGoes(d))
		}
	}
	method := fmt.Sprintf("Every function of the manifests is built like a deployment (CGO_ENABLED=0, -tags lambda.norpc, -trimpath, -ldflags \"-s -w\"; "+
		"here for %s, the machine's architecture, AWS runs arm64), with the environment the deployment model gives it and its bindings pointing at a closed port, "+
		"as is a hello-world aws-lambda-go function (tests/testdata/hello). Each run execs the binary against a stand-in Runtime API on loopback "+
		"and times exec to its first GET /runtime/invocation/next, which is what Lambda bills as init. "+
		"Each function runs %d times, each run paired with a hello-world run right before or after it (alternating which goes first), "+
		"the functions round-robin; the figure is the median of the paired differences, with their min and max. "+
		"The first row is hello against hello: the method's own noise. Load average (1, 5, 15 min) %s before measuring, %s after. "+
		"Sizes are of the binary and of its deployment zip (one deflated entry, bootstrap).",
		d.GOARCH, d.Pairs, orDash(first(d.Load)), orDash(last(d.Load)))
	if d.AgainstRev != "" {
		method += fmt.Sprintf(" The change column pairs each function with its own build from commit %s, run between the function and hello world in the same rounds: "+
			"the median of (now - then), with min and max; negative is faster now.", d.AgainstRev)
	}
	if b := d.Before; b != nil {
		method += fmt.Sprintf(" The before columns are from %s (generated %s, load %s before measuring, %s after), measured the same way.",
			b.Source, orDash(b.Generated), orDash(first(b.Load)), orDash(last(b.Load)))
	}
	return section{ID: "coldstart", Title: "Cold start", Method: method, Markdown: md, Data: d, Budgets: []budget{b}}
}

// over is the function's median over hello in the before run, if any.
func (b *coldBefore) over(fn string) (float64, bool) {
	if b == nil {
		return 0, false
	}
	v, ok := b.Over[fn]
	return v, ok
}

// summarize reduces one function's paired runs to its figures.
func summarize(name, kind string, diffs, fn, hello []float64) coldResult {
	return coldResult{Function: name, Kind: kind, Pairs: len(diffs),
		MedianOver: median(diffs), MinOver: slices.Min(diffs), MaxOver: slices.Max(diffs),
		MedianFn: median(fn), MedianHelo: median(hello), Diffs: diffs}
}

// median of xs (the mean of the middle two when even); xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// coldTargets is every function of the manifests with the environment the
// deployment model gives it; bindings (URLs a target fills in) point at a
// closed port: init must not call them.
func coldTargets(o options) ([]coldTarget, error) {
	set, err := manifest.Load(o.Root)
	if err != nil {
		return nil, err
	}
	model, err := deployment.Build(set, deployment.Params{Prefix: "bench", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		return nil, err
	}
	fns := map[string]*manifest.Function{}
	for _, fn := range set.Functions() {
		fns[fn.Name] = fn
	}
	var pick map[string]bool
	if o.Functions != "" {
		pick = map[string]bool{}
		for n := range strings.SplitSeq(o.Functions, ",") {
			pick[strings.TrimSpace(n)] = true
		}
	}
	var out []coldTarget
	for _, f := range model.Functions {
		if pick != nil && !pick[f.Name] {
			continue
		}
		fn := fns[f.Name]
		if fn == nil {
			return nil, fmt.Errorf("coldstart: %s is in the deployment model but not the manifests", f.Name)
		}
		env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_ENDPOINT_URL=http://127.0.0.1:1"}
		for k, v := range f.Environment {
			env = append(env, k+"="+v)
		}
		for k := range f.Bindings {
			env = append(env, k+"=http://127.0.0.1:1")
		}
		slices.Sort(env)
		out = append(out, coldTarget{Name: f.Name, Kind: fn.Kind, Dir: fn.Dir, Env: env})
	}
	if pick != nil && len(out) != len(pick) {
		return nil, fmt.Errorf("coldstart: -functions %q names a function the manifests do not have", o.Functions)
	}
	return out, nil
}

// buildTargets builds every target into dir, NumCPU at a time, the way the
// deployer does (localstack/deploy/build.go) but for this machine.
func buildTargets(ctx context.Context, root, dir string, ts []*coldTarget) error {
	sem := make(chan struct{}, runtime.NumCPU())
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Bin = filepath.Join(dir, t.Name, "bootstrap")
			cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", t.Bin, "./"+t.Dir)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %w\n%s", t.Name, err, msg)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// timeToNext execs bin against a stand-in Runtime API and returns the time
// from exec to its first /next request, then kills the process.
func timeToNext(ctx context.Context, bin string, env []string) (time.Duration, error) {
	d, _, err := runToNext(ctx, bin, env)
	return d, err
}

// runToNext is timeToNext that also returns what the process wrote
// (stdout and stderr) before it was killed.
func runToNext(ctx context.Context, bin string, env []string) (took time.Duration, output string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, "", err
	}
	first := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case first <- time.Now():
		default:
		}
		<-r.Context().Done() // hold /next open: the process is measured, then killed
	})}
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()

	cmd := exec.Command(bin)
	cmd.Env = append([]string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "PATH=" + os.Getenv("PATH")}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The output is read only once the process is gone (Wait has copied
	// all of it).
	stop := func() string {
		_ = cmd.Process.Kill()
		<-exited
		return out.String()
	}
	select {
	case at := <-first:
		return at.Sub(start), stop(), nil
	case err := <-exited:
		return 0, out.String(), fmt.Errorf("exited before calling the Runtime API (%v): %s", err, strings.TrimSpace(out.String()))
	case <-time.After(10 * time.Second):
		return 0, stop(), errors.New("did not call the Runtime API within 10 s")
	case <-ctx.Done():
		return 0, stop(), ctx.Err()
	}
}

// sizes is the binary's size and that of its deployment zip.
func sizes(bin string) (binary, zipped int64, err error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write(b)
	}
	if err == nil {
		err = zw.Close()
	}
	return int64(len(b)), int64(buf.Len()), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func ptrs(ts []coldTarget) []*coldTarget {
	out := make([]*coldTarget, len(ts))
	for i := range ts {
		out[i] = &ts[i]
	}
	return out
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

func last(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[len(xs)-1]
}

// knownInits says why a module's package init is still paid, for the
// modules that cost most; each is someone else's package-level work, which
// runs whenever the binary links the package, used or not.
var knownInits = map[string]string{
	"aws-sdk-go-v2/service/dynamodb": "the SDK builds the DynamoDB client's schema registry (service/dynamodb/schemas, about 3000 allocations) in its package init; " +
		"every function that reads or writes a table links it",
	"aws-sdk-go-v2/service/sfn":            "the Step Functions client's endpoint tables, in its package init",
	"aws-sdk-go-v2/service/eventbridge":    "the EventBridge client's schema registry, in its package init",
	"aws-sdk-go-v2/service/secretsmanager": "the Secrets Manager client's schema registry, in its package init",
	"santhosh-tekuri/jsonschema": "compiles five drafts' metaschemas in its package init; only platform-ingest links it (events/explain), " +
		"to name every failing place of an outside sender's event",
	"aws/aws-xray-sdk-go": "the X-Ray SDK's package-level state (a required dependency)",
	"json-iterator/go":    "the CloudEvents SDK's JSON codec; linked by every function of a service that publishes or consumes events (one Go package per service)",
}

// whereItGoes explains, from the run's own figures, where the functions
// over the budget spend their time beyond hello world's: the medians over
// those functions of package init beyond hello's (by module, with why each
// is still there) and of the rest (exec of a larger binary, the runtime's
// start, main's own work before its first /next).
func whereItGoes(d coldData) string {
	var over []coldResult
	for _, r := range d.Functions {
		if r.MedianOver > d.BudgetMs {
			over = append(over, r)
		}
	}
	if len(over) == 0 {
		return ""
	}
	var initOver, rest, size []float64
	byModule := map[string][]float64{}
	for _, r := range over {
		initOver = append(initOver, r.InitOver)
		rest = append(rest, r.MedianOver-r.InitOver)
		size = append(size, float64(r.BinBytes)/float64(max(d.Hello.BinBytes, 1)))
		for m, v := range r.Init.ByModule {
			if extra := v - d.Hello.Init.ByModule[m]; extra > 0 {
				byModule[m] = append(byModule[m], extra)
			}
		}
	}
	var costs []moduleCost
	for m, vs := range byModule {
		for len(vs) < len(over) {
			vs = append(vs, 0)
		}
		if v := median(vs); v >= 0.05 {
			costs = append(costs, moduleCost{module: m, ms: v, n: countAbove(vs, 0.01)})
		}
	}
	sortCosts(costs)
	var parts []string
	for i, c := range costs {
		if i == 6 {
			break
		}
		part := fmt.Sprintf("%s %.2f ms (in %d of them)", c.module, c.ms, c.n)
		if why, ok := knownInits[c.module]; ok {
			part += ": " + why
		}
		parts = append(parts, part)
	}
	return fmt.Sprintf("Where it goes, medians over those %d functions: package init %.2f ms beyond hello world's, the largest %s; "+
		"and %.2f ms outside package init (exec and page-in of a binary %.1fx hello world's size, the Go runtime's start, main's work before its first /next).",
		len(over), median(initOver), strings.Join(parts, "; "), median(rest), median(size))
}

func countAbove(vs []float64, limit float64) int {
	n := 0
	for _, v := range vs {
		if v > limit {
			n++
		}
	}
	return n
}
