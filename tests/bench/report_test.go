package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{-1, 100, 0, 0.5, 0.2}, 0.2}, // one slow run does not move it
	} {
		in := append([]float64(nil), c.in...)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("median reordered its input: %v", c.in)
			}
		}
	}
}

func TestColdSectionBudget(t *testing.T) {
	r := func(name string, diffs ...float64) coldResult {
		return summarize(name, "http", diffs, diffs, diffs)
	}
	for _, c := range []struct {
		name      string
		fns       []coldResult
		held      bool
		measured  string
		whyNotHas string
	}{
		{"all within", []coldResult{r("a", 1, 2, 1.5), r("b", 0.1, 0.2, 9)}, true, "1.50 ms (a)", ""},
		{"one over", []coldResult{r("a", 1, 2, 1.5), r("b", 2.1, 2.2, 2.3)}, false, "2.20 ms (b)", "1 of 2 functions over: b 2.20"},
		{"exactly the budget holds", []coldResult{r("a", 2, 2, 2)}, true, "2.00 ms (a)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := coldSectionOf(coldData{GOARCH: "amd64", Pairs: 3, Hello: r("hello", 0, 0, 0), Functions: c.fns})
			b := s.Budgets[0]
			if b.Held != c.held || b.Measured != c.measured || !strings.Contains(b.WhyNot, c.whyNotHas) {
				t.Errorf("budget = %+v, want held %v measured %q why-not containing %q", b, c.held, c.measured, c.whyNotHas)
			}
			if !strings.Contains(s.Markdown, "| hello |") {
				t.Errorf("no hello row:\n%s", s.Markdown)
			}
		})
	}
	if b := coldSectionOf(coldData{}).Budgets[0]; b.status() != "NOT MEASURED" {
		t.Errorf("no functions: status %q, want NOT MEASURED", b.status())
	}
}

func TestReportSummaryAndJSON(t *testing.T) {
	r := &report{
		Generated: time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC),
		Machine:   machine{GOOS: "linux", GOARCH: "amd64", CPUs: 2},
		Sections: []section{
			{ID: "coldstart", Title: "Cold start", Budgets: []budget{{Name: "cold", Limit: "2.0 ms", Measured: "1 ms", Held: true}}},
			{ID: "cost", Title: "Cost", Budgets: []budget{
				{Name: "transitions", Limit: "8", Measured: "9", WhyNot: "a | b"},
				{Name: "round trips", Limit: "3", WhyNot: "skipped: no stack"},
			}},
		},
		Errors: map[string]string{"warm": "go test failed\nmore"},
	}
	sum := r.summary()
	for _, want := range []string{"held         cold", "MISSED       transitions", "NOT MEASURED round trips", "FAILED       section warm: go test failed", "1 held, 1 missed, 1 not measured; sections failed: 1"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if md := r.markdown(); !strings.Contains(md, `a \| b`) || !strings.Contains(md, "## warm: FAILED") {
		t.Errorf("markdown does not escape cells or list the failure:\n%s", md)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Generated string                     `json:"generated"`
		Machine   map[string]any             `json:"machine"`
		Sections  map[string]json.RawMessage `json:"sections"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.Generated != "2026-12-02T01:00:00Z" || got.Machine["cpus"] != 2.0 || len(got.Sections) != 3 {
		t.Errorf("report.json = %s", js)
	}
}

func TestParseInittrace(t *testing.T) {
	out := `init runtime @0.011 ms, 0.032 ms clock, 0 bytes, 0 allocs
{"level":"INFO","msg":"not an init line"}
init github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas @2.4 ms, 0.76 ms clock, 586696 bytes, 3151 allocs
init broken @x ms, y ms clock, z bytes, 0 allocs
init github.com/go-playground/validator/v10 @4.2 ms, 0.73 ms clock, 431664 bytes, 1239 allocs
`
	got := parseInittrace(out)
	want := []pkgInit{{"runtime", 0.032, 0}, {"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", 0.76, 586696}, {"github.com/go-playground/validator/v10", 0.73, 431664}}
	if len(got) != len(want) {
		t.Fatalf("parseInittrace = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestModuleOf(t *testing.T) {
	for pkg, want := range map[string]string{
		"runtime":                             "std",
		"vendor/golang.org/x/net/http2/hpack": "std",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas":        "aws-sdk-go-v2/service/dynamodb",
		"github.com/aws/aws-sdk-go-v2/service/sts":                     "aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue": "aws-sdk-go-v2/feature/dynamodb",
		"github.com/aws/aws-sdk-go-v2/aws/signer/v4":                   "aws/aws-sdk-go-v2",
		"github.com/go-playground/validator/v10":                       "go-playground/validator",
		"golang.org/x/text/internal/language":                          "x/text",
		"github.com/shop-serverless/shop/shared/tracing":               "shop",
		"go.uber.org/zap/zapcore":                                      "go.uber.org/zap",
		"github.com/aws/aws-xray-sdk-go/v2/utils":                      "aws/aws-xray-sdk-go",
	} {
		if got := moduleOf(pkg); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", pkg, got, want)
		}
	}
}

func TestProfileOfMediansAndLargest(t *testing.T) {
	run := func(dyn, val, rt float64) []pkgInit {
		return []pkgInit{{"runtime", rt, 10}, {"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", dyn, 100}, {"github.com/go-playground/validator/v10", val, 50}}
	}
	p := profileOf([][]pkgInit{run(0.7, 0.5, 0.1), run(5.0, 0.6, 0.1), run(0.8, 0.4, 0.1)})
	if got := p.ByModule["aws-sdk-go-v2/service/dynamodb"]; got != 0.8 {
		t.Errorf("dynamodb median = %v, want 0.8 (one slow run must not move it)", got)
	}
	if p.Bytes != 160 {
		t.Errorf("bytes = %d, want 160", p.Bytes)
	}
	base := profileOf([][]pkgInit{{{"runtime", 0.1, 10}}})
	if got, want := p.largest(base, 1), "aws-sdk-go-v2/service/dynamodb 0.80"; got != want {
		t.Errorf("largest = %q, want %q", got, want)
	}
	if got := p.largest(base, 5); strings.Contains(got, "std") {
		t.Errorf("largest lists what hello world pays too: %q", got)
	}
	// A module missing from one run counts 0 there.
	q := profileOf([][]pkgInit{{{"x.org/a/b", 1, 0}}, {}, {}})
	if q.ByModule["x.org/a"] != 0 {
		t.Errorf("module in 1 of 3 runs: median %v, want 0", q.ByModule["x.org/a"])
	}
}

func TestColdBeforeRoundTrip(t *testing.T) {
	// A report.json written by one run is read back as the next run's before.
	fn := summarize("users-get", "http", []float64{3, 3.4, 3.2}, []float64{6}, []float64{3})
	fn.InitOver = 2.7
	r := &report{Generated: time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC), Sections: []section{
		coldSectionOf(coldData{GOARCH: "amd64", Pairs: 3, Load: []string{"0.5 0.4 0.3", "0.6 0.4 0.3"}, Hello: summarize("hello", "baseline", []float64{0}, []float64{3}, []float64{3}), Functions: []coldResult{fn}}),
	}}
	dir := t.TempDir()
	if err := r.write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := loadBefore(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Over["users-get"] != 3.2 || b.Init["users-get"] != 2.7 || b.Generated != "2026-12-02T01:00:00Z" || first(b.Load) != "0.5 0.4 0.3" {
		t.Fatalf("before = %+v", b)
	}
	fn.MedianOver = 1.9
	s := coldSectionOf(coldData{GOARCH: "amd64", Pairs: 3, Before: b, Hello: summarize("hello", "baseline", []float64{0}, []float64{3}, []float64{3}), Functions: []coldResult{fn}})
	if !strings.Contains(s.Markdown, "| users-get | http | 1.90 | 3.20 |") || !strings.Contains(s.Method, "generated 2026-12-02T01:00:00Z") {
		t.Errorf("before not shown:\n%s\n%s", s.Method, s.Markdown)
	}
	if _, err := loadBefore(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing before file must be an error, not an empty column")
	}
}
