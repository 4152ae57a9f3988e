package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// initRuns is how many GODEBUG=inittrace=1 runs each binary gets; the
// section reports each module's median over them.
const initRuns = 5

// pkgInit is one line of GODEBUG=inittrace=1:
//
//	init github.com/x/y @2.4 ms, 0.76 ms clock, 586696 bytes, 3151 allocs
type pkgInit struct {
	Pkg   string
	Ms    float64
	Bytes int64
}

// parseInittrace reads the init lines out of a process's output, skipping
// everything else.
func parseInittrace(out string) []pkgInit {
	var inits []pkgInit
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <n> allocs
		if len(f) < 11 || f[0] != "init" || f[6] != "clock," || f[8] != "bytes," {
			continue
		}
		ms, err1 := strconv.ParseFloat(f[4], 64)
		n, err2 := strconv.ParseInt(f[7], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		inits = append(inits, pkgInit{Pkg: f[1], Ms: ms, Bytes: n})
	}
	return inits
}

// moduleOf names the part of the dependency graph a package belongs to,
// coarse enough to act on: the standard library, a module, or one AWS SDK
// service (each is a module of its own, and the one a function can drop).
func moduleOf(pkg string) string {
	parts := strings.Split(pkg, "/")
	switch {
	case strings.HasPrefix(pkg, "vendor/") || !strings.Contains(parts[0], "."):
		return "std"
	case strings.HasPrefix(pkg, "github.com/shop-serverless/shop/"):
		return "shop"
	case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/") && len(parts) >= 5:
		return "aws-sdk-go-v2/service/" + parts[4]
	case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/feature/") && len(parts) >= 5:
		return "aws-sdk-go-v2/feature/" + parts[4]
	case (parts[0] == "github.com" || parts[0] == "golang.org") && len(parts) >= 3:
		return strings.Join(parts[1:3], "/") // aws/aws-xray-sdk-go, x/text
	}
	if len(parts) >= 2 {
		return strings.Join(parts[:2], "/")
	}
	return pkg
}

// initProfile is a binary's package initialisation, medians over runs.
type initProfile struct {
	TotalMs  float64            `json:"totalMs"`
	ByModule map[string]float64 `json:"byModuleMs"`
	Bytes    int64              `json:"bytes"`
}

// profileOf reduces several runs' init lines to medians per module.
func profileOf(runs [][]pkgInit) initProfile {
	totals := []float64{}
	bytes := []float64{}
	perModule := map[string][]float64{}
	for _, run := range runs {
		sums := map[string]float64{}
		var total float64
		var b int64
		for _, p := range run {
			sums[moduleOf(p.Pkg)] += p.Ms
			total += p.Ms
			b += p.Bytes
		}
		totals = append(totals, total)
		bytes = append(bytes, float64(b))
		for m, v := range sums {
			perModule[m] = append(perModule[m], v)
		}
	}
	p := initProfile{TotalMs: median(totals), Bytes: int64(median(bytes)), ByModule: map[string]float64{}}
	for m, vs := range perModule {
		for len(vs) < len(runs) { // a module absent from a run took 0 there
			vs = append(vs, 0)
		}
		p.ByModule[m] = median(vs)
	}
	return p
}

// largest lists the n modules whose init costs most beyond the baseline's
// (hello world's std library is everyone's), as "module 0.76".
func (p initProfile) largest(base initProfile, n int) string {
	var ms []moduleCost
	for m, v := range p.ByModule {
		if d := v - base.ByModule[m]; d >= 0.05 {
			ms = append(ms, moduleCost{module: m, ms: d})
		}
	}
	sortCosts(ms)
	var out []string
	for i, x := range ms {
		if i == n {
			break
		}
		out = append(out, fmt.Sprintf("%s %.2f", x.module, x.ms))
	}
	return strings.Join(out, ", ")
}

// moduleCost is a module's package init in milliseconds, and in how many
// binaries it was paid (where that is counted).
type moduleCost struct {
	module string
	ms     float64
	n      int
}

// sortCosts orders costs most expensive first, then by module.
func sortCosts(costs []moduleCost) {
	slices.SortFunc(costs, func(a, b moduleCost) int {
		if c := cmp.Compare(b.ms, a.ms); c != 0 {
			return c
		}
		return strings.Compare(a.module, b.module)
	})
}

// profileInit runs bin initRuns times with GODEBUG=inittrace=1.
func profileInit(ctx context.Context, bin string, env []string) (initProfile, error) {
	var runs [][]pkgInit
	for range initRuns {
		_, out, err := runToNext(ctx, bin, append(slices.Clone(env), "GODEBUG=inittrace=1"))
		if err != nil {
			return initProfile{}, err
		}
		runs = append(runs, parseInittrace(out))
	}
	return profileOf(runs), nil
}
