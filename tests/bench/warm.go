package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/benchmark/parse"
)

// The warm section: Go benchmarks of each layer a warm invocation passes
// (issue 12, item 2), each against a bare net/http handler doing the same
// JSON work, and the budget that the shared edge without signature
// verification costs at most twice the bare handler.

// warmBench is one Go benchmark (with its sub-benchmarks) of the section.
type warmBench struct {
	Pkg   string // import path relative to the module root, "./shared/httpfn"
	Bench string // the top-level benchmark, "BenchmarkEdge"
	Layer string // what it measures, for the table
}

// warmBenches are the layers, outermost first. A sub-benchmark named
// "bare" (if any) is what its siblings' ratio is taken against.
var warmBenches = []warmBench{
	{"./shared/runtime", "BenchmarkHTTPAdapter", "API Gateway adapter (event -> http.Request -> response event)"},
	{"./shared/httpapi", "BenchmarkMiddleware", "edge middleware: ids, access log, metrics, problem (httpapi.Middleware)"},
	{"./shared/httpfn", "BenchmarkEdge", "the whole shared edge (adapter + httpfn.Wrap: middleware, faults off, auth)"},
	{"./shared/servicetoken", "BenchmarkVerify", "token verification, keys in memory"},
	{"./shared/servicetoken", "BenchmarkVerifyCache", "token verification without and with the verified-token cache (size=0, size=512)"},
	{"./shared/servicetoken/ssmkeys", "BenchmarkVerifyKeyCache", "token verification through the JWKS key source (cold, warm cache)"},
	{"./shared/idempotency", "BenchmarkIdempotency", "idempotency (Idempotency-Key; DynamoDB behind dynamostub)"},
	{"./functions/inventory", "BenchmarkHandlers", "inventory handlers (DynamoDB behind dynamostub)"},
	{"./functions/users", "BenchmarkHandlers", "users handlers (DynamoDB behind dynamostub)"},
	{"./functions/orders", "BenchmarkHandlers", "orders handlers (DynamoDB behind dynamostub)"},
}

// Budget: the shared edge without signature verification at most this many
// times the bare handler.
const (
	warmBudgetRatio = 2.0
	warmEdgeFamily  = "BenchmarkEdge"
	warmEdgeSub     = "edge"
	warmBareSub     = "bare"
)

// warmResult is one benchmark's medians over the rounds.
type warmResult struct {
	Package     string    `json:"package"`
	Name        string    `json:"name"`  // "BenchmarkEdge/edge"
	Layer       string    `json:"layer"` // the family's description
	NsPerOp     float64   `json:"nsPerOp"`
	BytesPerOp  float64   `json:"bytesPerOp"`
	AllocsPerOp float64   `json:"allocsPerOp"`
	RatioToBare float64   `json:"ratioToBare,omitempty"` // median over the rounds of ns/op over its bare sibling's; 0: no bare
	Rounds      []float64 `json:"nsPerOpRounds"`
	RatioRounds []float64 `json:"ratioRounds,omitempty"`
}

type warmData struct {
	// BeforeAfter is BenchmarkEdge built before and after the fixes the
	// numbers led to, measured together in interleaved rounds
	// (testdata/warm-edge-{before,after}.txt; nil when they are missing).
	BeforeAfter *warmChange  `json:"edgeBeforeAfter,omitempty"`
	Rounds      int          `json:"rounds"`
	Benchtime   string       `json:"benchtime"`
	CPU         int          `json:"gomaxprocs"`
	Results     []warmResult `json:"results"`
	Skipped     []string     `json:"skipped,omitempty"` // benchmarks that do not exist in this build
}

// warmChange is one benchmark family before and after a change, from one
// paired run recorded in testdata.
type warmChange struct {
	Note   string       `json:"note"` // the recording's own header: revisions, rounds, load
	Before []warmResult `json:"before"`
	After  []warmResult `json:"after"`
}

// Where the recorded before/after run of BenchmarkEdge is, relative to the
// repository's root.
const (
	warmBeforeFile = "tests/bench/testdata/warm-edge-before.txt"
	warmAfterFile  = "tests/bench/testdata/warm-edge-after.txt"
)

// loadWarmChange reads the recorded before/after run: raw go test output,
// its '#' lines a note of how it was taken.
func loadWarmChange(root string) (*warmChange, error) {
	c := &warmChange{}
	for i, name := range []string{warmBeforeFile, warmAfterFile} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return nil, err
		}
		set, err := parse.ParseSet(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rs := summarizeWarm(warmBench{Pkg: "./shared/httpfn", Bench: warmEdgeFamily}, []parse.Set{set})
		if i == 0 {
			c.Before = rs
			for line := range strings.Lines(string(data)) {
				if note, ok := strings.CutPrefix(line, "# "); ok {
					c.Note += note
				}
			}
		} else {
			c.After = rs
		}
	}
	c.Note = strings.Join(strings.Fields(c.Note), " ")
	return c, nil
}

// beforeAfterTable puts each benchmark of c before and after side by side.
func beforeAfterTable(c *warmChange) string {
	after := map[string]warmResult{}
	for _, r := range c.After {
		after[r.Name] = r
	}
	var rows [][]string
	seen := map[string]bool{}
	cellsOf := func(r warmResult, ok bool) []string {
		if !ok {
			return []string{"—", "—", "—", "—"}
		}
		return []string{fmtNs(r.NsPerOp), strconv.FormatFloat(r.BytesPerOp, 'f', 0, 64), strconv.FormatFloat(r.AllocsPerOp, 'f', 0, 64), fmt.Sprintf("%.2fx", r.RatioToBare)}
	}
	for _, b := range c.Before {
		a, ok := after[b.Name]
		seen[b.Name] = true
		rows = append(rows, append(append([]string{"`" + b.Name + "`"}, cellsOf(b, true)...), cellsOf(a, ok)...))
	}
	for _, a := range c.After {
		if !seen[a.Name] {
			rows = append(rows, append(append([]string{"`" + a.Name + "`"}, cellsOf(warmResult{}, false)...), cellsOf(a, true)...))
		}
	}
	return markdownTable([]string{"benchmark", "before ns/op", "B/op", "allocs/op", "ratio", "after ns/op", "B/op", "allocs/op", "ratio"}, rows)
}

func warmSection(ctx context.Context, o options) (section, error) {
	rounds, benchtime := o.WarmRounds, o.WarmBenchtime
	if rounds < 1 {
		rounds = 5
	}
	if benchtime == "" {
		benchtime = "200ms"
	}
	dir, err := os.MkdirTemp("", "shop-warm-")
	if err != nil {
		return section{}, err
	}
	defer os.RemoveAll(dir)

	// One test binary per package, built once; then every round runs every
	// binary once, so a burst of load on the shared machine lands on all
	// layers alike instead of on whichever ran at that moment.
	byPkg := map[string][]warmBench{}
	var pkgs []string
	for _, wb := range warmBenches {
		if _, ok := byPkg[wb.Pkg]; !ok {
			pkgs = append(pkgs, wb.Pkg)
		}
		byPkg[wb.Pkg] = append(byPkg[wb.Pkg], wb)
	}
	bins := map[string]string{}
	for i, pkg := range pkgs {
		bin := filepath.Join(dir, fmt.Sprintf("pkg%d.test", i))
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
		cmd.Dir = o.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return section{}, fmt.Errorf("warm: go test -c %s: %w\n%s", pkg, err, out)
		}
		bins[pkg] = bin
	}
	runs := map[string][]parse.Set{} // pkg -> one Set per round
	for range rounds {
		for _, pkg := range pkgs {
			var names []string
			for _, wb := range byPkg[pkg] {
				names = append(names, wb.Bench)
			}
			cmd := exec.CommandContext(ctx, bins[pkg], "-test.run", "^$", "-test.bench", "^("+strings.Join(names, "|")+")$",
				"-test.benchmem", "-test.count", "1", "-test.cpu", "1", "-test.benchtime", benchtime)
			cmd.Dir = filepath.Join(o.Root, pkg) // as go test runs a package's tests
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				return section{}, fmt.Errorf("warm: benchmarks of %s: %w\n%s%s", pkg, err, stdout.Bytes(), stderr.Bytes())
			}
			set, err := parse.ParseSet(&stdout)
			if err != nil {
				return section{}, fmt.Errorf("warm: parse the output of %s: %w", pkg, err)
			}
			runs[pkg] = append(runs[pkg], set)
		}
	}
	d := warmData{Rounds: rounds, Benchtime: benchtime, CPU: 1}
	for _, wb := range warmBenches {
		rs := summarizeWarm(wb, runs[wb.Pkg])
		if len(rs) == 0 {
			d.Skipped = append(d.Skipped, wb.Pkg+" "+wb.Bench)
		}
		d.Results = append(d.Results, rs...)
	}
	if c, err := loadWarmChange(o.Root); err == nil {
		d.BeforeAfter = c
	} else {
		fmt.Fprintf(os.Stderr, "bench: warm: no before/after of the edge: %v\n", err)
	}
	return warmSectionOf(d), nil
}

// summarizeWarm takes the medians, over the rounds, of wb's benchmarks
// (itself or its sub-benchmarks), in the order the first round ran them,
// and each one's ratio to its bare sibling (bareOf).
func summarizeWarm(wb warmBench, sets []parse.Set) []warmResult {
	type acc struct{ ns, bytes, allocs []float64 }
	accs := map[string]*acc{}
	var order []string
	ordinal := map[string]int{}
	for _, set := range sets {
		for name, bs := range set {
			if name != wb.Bench && !strings.HasPrefix(name, wb.Bench+"/") {
				continue
			}
			a, ok := accs[name]
			if !ok {
				a = &acc{}
				accs[name] = a
				order = append(order, name)
				ordinal[name] = bs[0].Ord
			}
			for _, b := range bs {
				a.ns = append(a.ns, b.NsPerOp)
				a.bytes = append(a.bytes, float64(b.AllocedBytesPerOp))
				a.allocs = append(a.allocs, float64(b.AllocsPerOp))
			}
		}
	}
	slices.SortFunc(order, func(x, y string) int { return ordinal[x] - ordinal[y] })
	var out []warmResult
	for _, name := range order {
		a := accs[name]
		r := warmResult{Package: wb.Pkg, Name: name, Layer: wb.Layer,
			NsPerOp: median(a.ns), BytesPerOp: median(a.bytes), AllocsPerOp: median(a.allocs), Rounds: a.ns}
		if bare, ok := accs[bareOf(name)]; ok && len(bare.ns) == len(a.ns) {
			// Paired by round: the two ran a moment apart, under the same
			// load, which a ratio of the two medians would not respect.
			ratios := make([]float64, len(a.ns))
			for i := range a.ns {
				ratios[i] = a.ns[i] / bare.ns[i]
			}
			r.RatioToBare, r.RatioRounds = median(ratios), ratios
		}
		out = append(out, r)
	}
	return out
}

// bareOf names the bare handler a benchmark is compared with: its sibling
// "bare" (BenchmarkEdge/edge -> BenchmarkEdge/bare, BenchmarkHandlers/get/store
// -> BenchmarkHandlers/get/bare); "" for a top-level benchmark.
func bareOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i+1] + warmBareSub
}

// warmBudget is the budget for the warm path: the shared edge
// (BenchmarkEdge/edge: auth "none") over the bare handler.
func warmBudget(rs []warmResult) budget {
	b := budget{Name: "warm: shared edge without signature verification / bare net/http handler", Limit: fmt.Sprintf("<= %.1fx", warmBudgetRatio)}
	for _, r := range rs {
		if r.Name == warmEdgeFamily+"/"+warmEdgeSub && r.RatioToBare > 0 {
			b.Measured = fmt.Sprintf("%.2fx (median of %d rounds' ratios, %.2f to %.2f; %s/op)", r.RatioToBare, len(r.RatioRounds),
				slices.Min(r.RatioRounds), slices.Max(r.RatioRounds), fmtNs(r.NsPerOp))
			b.Held = r.RatioToBare <= warmBudgetRatio
			if !b.Held {
				b.WhyNot = "see the warm section's table: which layer of BenchmarkEdge adds the time"
			}
			return b
		}
	}
	b.WhyNot = "BenchmarkEdge/edge or BenchmarkEdge/bare did not run"
	return b
}

func warmSectionOf(d warmData) section {
	rows := make([][]string, 0, len(d.Results))
	for _, r := range d.Results {
		ratio := "—"
		if r.RatioToBare > 0 {
			ratio = fmt.Sprintf("%.2fx", r.RatioToBare)
		}
		rows = append(rows, []string{r.Layer, "`" + r.Name + "`", fmtNs(r.NsPerOp), strconv.FormatFloat(r.BytesPerOp, 'f', 0, 64), strconv.FormatFloat(r.AllocsPerOp, 'f', 0, 64), ratio})
	}
	md := markdownTable([]string{"layer", "benchmark", "ns/op", "B/op", "allocs/op", "ratio to bare"}, rows)
	if len(d.Skipped) > 0 {
		md += "\nNot in this build (no such benchmark): " + strings.Join(d.Skipped, ", ") + ".\n"
	}
	if d.BeforeAfter != nil {
		md += "\n### The shared edge before and after\n\n" + d.BeforeAfter.Note + " Medians over the rounds; ratios paired by round. " +
			"What changed: metrics.appendString copies plain ASCII instead of a json.Marshal per string; log.Invocation builds " +
			"its logger with Handler().WithAttrs (no boxing of each field); metrics.Emit copies its values only to drop a NaN; " +
			"log.Sensitive answers the edge's own keys at once; and a verified-token cache (servicetoken.WithVerifiedCache, on " +
			"in ssmkeys.NewVerifier) spares a token seen before its Ed25519 check (`edge-verify-cached`). The before build has " +
			"no such cache.\n\n" + beforeAfterTable(d.BeforeAfter)
	}
	return section{
		ID:    "warm",
		Title: "Warm cost per layer",
		Method: fmt.Sprintf("Go benchmarks in the packages they measure (`-benchmem`, `-cpu 1` as a Lambda of at most 1769 MB has one vCPU, "+
			"`-benchtime %s`), each test binary built once and run %d rounds, every package once per round so that load on the "+
			"shared machine falls on all layers alike; the figures are the medians over the rounds, parsed with "+
			"golang.org/x/tools/benchmark/parse. Each family's `bare` is a plain net/http handler doing the same JSON work, "+
			"given an *http.Request parsed from the wire (httptest.NewRequest) and a ResponseRecorder; the ratio is the median, "+
			"over the rounds, of each round's ns/op over its bare sibling's in the same round (paired, as the two ran a moment "+
			"apart under the same load). DynamoDB is a local stub of its JSON wire protocol (shared/store/dynamostub: the SDK's real "+
			"client, signing and HTTP round trip over loopback), and SSM a stub answering GetParameter. Logs and EMF metrics "+
			"go to /dev/null (one write each, as to Lambda's stdout). The budget compares BenchmarkEdge/edge (the adapter "+
			"and httpfn.Wrap with auth \"none\") to BenchmarkEdge/bare.", d.Benchtime, d.Rounds),
		Markdown: md,
		Data:     d,
		Budgets:  []budget{warmBudget(d.Results)},
	}
}

// fmtNs prints a duration in ns as the table reads best: 912 ns, 14.3 µs.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
