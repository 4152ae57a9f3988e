package main

import (
	"encoding/json"
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
