package main

import (
	"strings"
	"testing"

	"golang.org/x/tools/benchmark/parse"
)

// Three rounds of one package's output, with the noise a shared machine
// adds: a log line between results and a slow middle round.
var warmRounds = []string{
	`goos: linux
BenchmarkEdge/bare         	   61022	     10000 ns/op	    9154 B/op	      55 allocs/op
2026-12-02T01:09:14Z [INFO] X-Ray proxy using address : 127.0.0.1:2000
BenchmarkEdge/adapter      	   79900	     12000 ns/op	    6144 B/op	      65 allocs/op
BenchmarkEdge/edge         	   52183	     15000 ns/op	    8358 B/op	      93 allocs/op
BenchmarkEdge/edge-verify  	   15369	     70000 ns/op	   12534 B/op	     152 allocs/op
PASS`,
	`BenchmarkEdge/bare         	   61022	     30000 ns/op	    9154 B/op	      55 allocs/op
BenchmarkEdge/adapter      	   79900	     36000 ns/op	    6144 B/op	      65 allocs/op
BenchmarkEdge/edge         	   52183	     45000 ns/op	    8358 B/op	      93 allocs/op
BenchmarkEdge/edge-verify  	   15369	     90000 ns/op	   12534 B/op	     152 allocs/op`,
	`BenchmarkEdge/bare         	   61022	     11000 ns/op	    9154 B/op	      55 allocs/op
BenchmarkEdge/adapter      	   79900	     13000 ns/op	    6144 B/op	      65 allocs/op
BenchmarkEdge/edge         	   52183	     25000 ns/op	    8360 B/op	      93 allocs/op
BenchmarkEdge/edge-verify  	   15369	     80000 ns/op	   12534 B/op	     152 allocs/op
BenchmarkOther             	   15369	     80000 ns/op	   12534 B/op	     152 allocs/op`,
}

func parseRounds(t *testing.T, rounds []string) []parse.Set {
	t.Helper()
	var sets []parse.Set
	for _, r := range rounds {
		set, err := parse.ParseSet(strings.NewReader(r))
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, set)
	}
	return sets
}

func TestSummarizeWarmTakesMediansAndRatios(t *testing.T) {
	rs := summarizeWarm(warmBench{Pkg: "./shared/httpfn", Bench: "BenchmarkEdge", Layer: "edge"}, parseRounds(t, warmRounds))
	want := []struct {
		name          string
		ns, by, ratio float64
	}{
		{"BenchmarkEdge/bare", 11000, 9154, 1},
		{"BenchmarkEdge/adapter", 13000, 6144, 1.2},    // rounds 1.2, 1.2, 1.18
		{"BenchmarkEdge/edge", 25000, 8358, 1.5},       // rounds 1.5, 1.5, 2.27: paired, not 25000/11000
		{"BenchmarkEdge/edge-verify", 80000, 12534, 7}, // rounds 7, 3, 7.27
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d results, want %d (BenchmarkOther is not of the family): %+v", len(rs), len(want), rs)
	}
	for i, w := range want {
		r := rs[i]
		if r.Name != w.name || r.NsPerOp != w.ns || r.BytesPerOp != w.by || r.AllocsPerOp == 0 || len(r.Rounds) != 3 {
			t.Errorf("result %d = %+v, want %s at %v ns/op, %v B/op over 3 rounds", i, r, w.name, w.ns, w.by)
		}
		if diff := r.RatioToBare - w.ratio; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: ratio %v, want %v", r.Name, r.RatioToBare, w.ratio)
		}
	}
}

func TestSummarizeWarmWithoutBareHasNoRatio(t *testing.T) {
	sets := parseRounds(t, []string{"BenchmarkVerify  	 24585	 48909 ns/op	 3145 B/op	 55 allocs/op"})
	rs := summarizeWarm(warmBench{Bench: "BenchmarkVerify"}, sets)
	if len(rs) != 1 || rs[0].RatioToBare != 0 || rs[0].NsPerOp != 48909 {
		t.Fatalf("got %+v", rs)
	}
	if rs := summarizeWarm(warmBench{Bench: "BenchmarkHandlers"}, sets); len(rs) != 0 {
		t.Fatalf("a benchmark that did not run gave %+v", rs)
	}
}

func TestBareOf(t *testing.T) {
	for name, want := range map[string]string{
		"BenchmarkEdge/edge":          "BenchmarkEdge/bare",
		"BenchmarkHandlers/get/store": "BenchmarkHandlers/get/bare",
		"BenchmarkHandlers/get/bare":  "BenchmarkHandlers/get/bare",
		"BenchmarkVerify":             "",
	} {
		if got := bareOf(name); got != want {
			t.Errorf("bareOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestWarmBudget(t *testing.T) {
	for _, tt := range []struct {
		name    string
		results []warmResult
		status  string
	}{
		{"held", []warmResult{{Name: "BenchmarkEdge/bare", NsPerOp: 10, RatioToBare: 1, RatioRounds: []float64{1}}, {Name: "BenchmarkEdge/edge", NsPerOp: 20, RatioToBare: 2, RatioRounds: []float64{2}}}, "held"},
		{"missed", []warmResult{{Name: "BenchmarkEdge/edge", NsPerOp: 21, RatioToBare: 2.1, RatioRounds: []float64{2.1}}}, "MISSED"},
		{"the verifying edge does not count", []warmResult{{Name: "BenchmarkEdge/edge-verify", NsPerOp: 90, RatioToBare: 9}}, "NOT MEASURED"},
		{"no bare", []warmResult{{Name: "BenchmarkEdge/edge", NsPerOp: 20}}, "NOT MEASURED"},
	} {
		b := warmBudget(tt.results)
		if b.status() != tt.status {
			t.Errorf("%s: %s (%+v), want %s", tt.name, b.status(), b, tt.status)
		}
	}
}

func TestFmtNs(t *testing.T) {
	for ns, want := range map[float64]string{912: "912 ns", 14321: "14.3 µs", 2_500_000: "2.50 ms"} {
		if got := fmtNs(ns); got != want {
			t.Errorf("fmtNs(%v) = %q, want %q", ns, got, want)
		}
	}
}

// The recorded before/after run of the edge reads back: both sides, every
// round, the budget's layer in each.
func TestRecordedEdgeBeforeAfter(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadWarmChange(root)
	if err != nil {
		t.Fatal(err)
	}
	find := func(rs []warmResult, name string) warmResult {
		for _, r := range rs {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("%s missing", name)
		return warmResult{}
	}
	before, after := find(c.Before, "BenchmarkEdge/edge"), find(c.After, "BenchmarkEdge/edge")
	if len(before.Rounds) != len(after.Rounds) || len(before.Rounds) < 5 || before.RatioToBare == 0 || after.RatioToBare == 0 {
		t.Fatalf("before %+v, after %+v: want the same rounds (at least 5) and ratios", before, after)
	}
	if c.Note == "" || !strings.Contains(beforeAfterTable(c), "edge-verify-cached") {
		t.Fatalf("note %q, table:\n%s", c.Note, beforeAfterTable(c))
	}
}
