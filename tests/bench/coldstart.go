package main

import (
	"archive/zip"
	"bytes"
	"context"
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
}

// coldData is what report.json keeps for the section.
type coldData struct {
	GOARCH    string       `json:"goarch"`
	Pairs     int          `json:"pairs"`
	BudgetMs  float64      `json:"budgetMs"`
	Load      []string     `json:"loadDuring"` // /proc/loadavg before and after measuring
	Hello     coldResult   `json:"hello"`      // hello against hello: the method's own noise
	Functions []coldResult `json:"functions"`
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

	data := coldData{GOARCH: runtime.GOARCH, Pairs: o.Pairs, BudgetMs: coldBudget, Load: []string{loadAverage()}}
	// Round-robin: pair i of every function runs before pair i+1 of any, so
	// a spell of load elsewhere on the machine lands on all functions alike
	// rather than on whichever was being measured.
	diffs := make([][]float64, len(all))
	fnMs := make([][]float64, len(all))
	helloMs := make([][]float64, len(all))
	for i := range o.Pairs {
		for j, t := range all {
			if err := ctx.Err(); err != nil {
				return section{}, err
			}
			// Alternate which of the pair starts first: whichever goes
			// second finds the binary's pages and the scheduler warmer.
			fnFirst := (i+j)%2 == 0
			var f, h time.Duration
			if fnFirst {
				f, err = timeToNext(ctx, t.Bin, t.Env)
				if err == nil {
					h, err = timeToNext(ctx, hello.Bin, nil)
				}
			} else {
				h, err = timeToNext(ctx, hello.Bin, nil)
				if err == nil {
					f, err = timeToNext(ctx, t.Bin, t.Env)
				}
			}
			if err != nil {
				return section{}, fmt.Errorf("coldstart %s: %w", t.Name, err)
			}
			diffs[j] = append(diffs[j], ms(f-h))
			fnMs[j] = append(fnMs[j], ms(f))
			helloMs[j] = append(helloMs[j], ms(h))
		}
	}
	data.Load = append(data.Load, loadAverage())
	for j, t := range all {
		r := summarize(t.Name, t.Kind, diffs[j], fnMs[j], helloMs[j])
		r.BinBytes, r.ZipBytes, err = sizes(t.Bin)
		if err != nil {
			return section{}, err
		}
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
		rows = append(rows, []string{r.Function, r.Kind,
			fmt.Sprintf("%.2f%s", r.MedianOver, mark), fmt.Sprintf("%.2f", r.MinOver), fmt.Sprintf("%.2f", r.MaxOver),
			fmt.Sprintf("%.2f", r.MedianFn), fmt.Sprintf("%.2f", r.MedianHelo),
			mib(r.BinBytes), mib(r.ZipBytes)})
	}
	md := markdownTable([]string{"function", "kind", "median over hello (ms)", "min", "max", "function alone (ms, median)", "hello alone (ms, median)", "binary (" + d.GOARCH + ")", "zip"}, rows)
	b := budget{Name: "cold start over hello world (worst function, median)", Limit: fmt.Sprintf("%.1f ms", coldBudget)}
	if len(d.Functions) > 0 {
		b.Measured = fmt.Sprintf("%.2f ms (%s)", worst.MedianOver, worst.Function)
		b.Held = len(over) == 0
		if !b.Held {
			b.WhyNot = fmt.Sprintf("%d of %d functions over: %s", len(over), len(d.Functions), strings.Join(over, ", "))
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
	return section{ID: "coldstart", Title: "Cold start", Method: method, Markdown: md, Data: d, Budgets: []budget{b}}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
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
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case at := <-first:
		return at.Sub(start), nil
	case err := <-exited:
		exited <- err // for the deferred wait
		return 0, fmt.Errorf("exited before calling the Runtime API (%v): %s", err, strings.TrimSpace(stderr.String()))
	case <-time.After(10 * time.Second):
		return 0, errors.New("did not call the Runtime API within 10 s")
	case <-ctx.Done():
		return 0, ctx.Err()
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
