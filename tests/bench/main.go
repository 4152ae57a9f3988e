// Command bench is `make bench`: it measures what issue 12 budgets (cold
// start, warm cost per layer, AWS round trips and dollars per order, load)
// side by side in one run and writes build/bench/report.md and report.json.
//
//	go run ./tests/bench -out build/bench                 (from the repository's root)
//	go run ./tests/bench -only coldstart -pairs 61        (one section)
//
// Each section lives in a file of its own and exposes
// func <id>Section(ctx, options) (section, error); main runs them in order,
// keeps going when one fails (the report says which and why), and prints
// every budget held, missed or not measured. Sections that need the local
// stack read AWS_ENDPOINT_URL and .local/api-url, and report "skipped: no
// stack" when either is missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

// options is what every section may read: where the repository and the
// stack are, and each section's own knobs (flags of their own).
type options struct {
	Root     string // the repository's root (holds go.mod)
	Out      string // where report.md and report.json go
	Endpoint string // AWS_ENDPOINT_URL of the local stack, "" when none
	APIURL   string // the deployed API's base URL (.local/api-url), "" when none

	// coldstart
	Pairs       int    // paired runs per function (function, hello) against the stand-in Runtime API
	Functions   string // comma-separated function names to measure; "" means all
	ColdBefore  string // a report.json of an earlier run, shown as "before"
	ColdAgainst string // a git revision whose builds run beside this tree's, paired
}

// stack says whether a deployed local stack is there, and why not.
func (o options) stack() (bool, string) {
	switch {
	case o.Endpoint == "":
		return false, "skipped: no stack (AWS_ENDPOINT_URL unset)"
	case o.APIURL == "":
		return false, "skipped: no stack (no .local/api-url: nothing deployed)"
	}
	return true, ""
}

type sectionFunc func(context.Context, options) (section, error)

func main() {
	var o options
	var only string
	flag.StringVar(&o.Out, "out", filepath.Join("build", "bench"), "directory for report.md and report.json")
	flag.StringVar(&only, "only", "", "comma-separated section ids to run (coldstart,warm,cost,load); default all")
	flag.IntVar(&o.Pairs, "pairs", 31, "coldstart: paired runs (function, hello world) per function, at least 30")
	flag.StringVar(&o.ColdBefore, "coldstart-before", filepath.Join("tests", "bench", "testdata", "coldstart-before.json"), "coldstart: an earlier run's report.json to show as before (\"\" for none)")
	flag.StringVar(&o.ColdAgainst, "coldstart-against", "", "coldstart: also build every function from this git revision and measure it in the same rounds (paired change)")
	flag.StringVar(&o.Functions, "functions", "", "coldstart: comma-separated function names (default every function in the manifests)")
	flag.Parse()

	if err := run(o, only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options, only string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	o.Root = root
	if !filepath.IsAbs(o.Out) {
		o.Out = filepath.Join(root, o.Out)
	}
	o.Endpoint = os.Getenv("AWS_ENDPOINT_URL")
	if b, err := os.ReadFile(filepath.Join(root, ".local", "api-url")); err == nil {
		o.APIURL = strings.TrimSpace(string(b))
	}
	if v := os.Getenv("SHOP_API_URL"); v != "" {
		o.APIURL = v
	}

	// The order of the report. Each helper's section replaces its pending
	// stub (<id>_pending.go) with <id>.go.
	all := []struct {
		id  string
		run sectionFunc
	}{
		{"coldstart", coldstartSection},
		{"warm", warmSection},
		{"cost", costSection},
		{"load", loadSection},
	}
	want := map[string]bool{}
	for id := range strings.SplitSeq(only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			want[id] = true
		}
	}

	r := &report{Generated: time.Now(), Machine: describeMachine(), Errors: map[string]string{}}
	for _, s := range all {
		if len(want) > 0 && !want[s.id] {
			continue
		}
		began := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", s.id)
		sec, err := s.run(ctx, o)
		if err != nil {
			r.Errors[s.id] = err.Error()
			fmt.Fprintf(os.Stderr, "bench: %s FAILED after %s: %v\n", s.id, time.Since(began).Round(time.Second), err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if sec.ID == "" {
			sec.ID = s.id
		}
		r.Sections = append(r.Sections, sec)
		fmt.Fprintf(os.Stderr, "bench: %s done in %s\n", s.id, time.Since(began).Round(time.Second))
	}
	r.Machine.LoadAfter = loadAverage()
	if err := r.write(o.Out); err != nil {
		return err
	}
	fmt.Print(r.summary())
	fmt.Printf("report: %s\n", filepath.Join(o.Out, "report.md"))
	if len(r.Errors) > 0 {
		return errors.New("a section failed (see the report)")
	}
	return nil
}

// repoRoot is the nearest directory upward holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		dir = parent
	}
}
