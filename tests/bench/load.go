package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shop-serverless/shop/functions/provider"
)

// The load section's knobs (flags of its own).
var (
	loadDuration = flag.Duration("load-duration", 10*time.Second, "load section: how long each endpoint is attacked")
	loadGetRate  = flag.Int("load-get-rate", 20, "load section: GET /v1/products/{id} requests per second")
	loadPostRate = flag.Int("load-post-rate", 5, "load section: POST /v1/orders requests per second")
)

// loadResult is one endpoint's attack, as vegeta measured it.
type loadResult struct {
	Endpoint    string         `json:"endpoint"`
	Rate        int            `json:"ratePerSecond"`
	Duration    string         `json:"duration"`
	Requests    uint64         `json:"requests"`
	P50Ms       float64        `json:"p50Ms"`
	P90Ms       float64        `json:"p90Ms"`
	P99Ms       float64        `json:"p99Ms"`
	MaxMs       float64        `json:"maxMs"`
	ErrorRate   float64        `json:"errorRate"`
	StatusCodes map[string]int `json:"statusCodes"`
	Errors      []string       `json:"errors,omitempty"`
}

func loadSection(ctx context.Context, o options) (section, error) {
	sec := section{ID: "load", Title: "Load on the local stack (reported, not budgeted)"}
	s, err := connectStack(ctx, o)
	if errors.Is(err, errNoStack) {
		sec.Method = "Not measured: " + err.Error() + "."
		sec.Markdown = "**skipped: no stack**\n"
		return sec, nil
	}
	if err != nil {
		return sec, err
	}
	run := fmt.Sprint(time.Now().UnixNano())
	orders := int64(*loadPostRate) * int64(loadDuration.Seconds()+1)
	product, err := s.createProduct(ctx, "LOAD-"+run, orders+10)
	if err != nil {
		return sec, err
	}
	_, token, err := s.registerUser(ctx, "load-"+run+"@example.com")
	if err != nil {
		return sec, err
	}
	get := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: s.api + "/v1/products/" + product})
	var n atomic.Int64
	body := []byte(fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}],"paymentMethod":{"token":%q}}`, product, provider.TokenVisa))
	post := vegeta.Targeter(func(t *vegeta.Target) error {
		*t = vegeta.Target{Method: http.MethodPost, URL: s.api + "/v1/orders", Body: body, Header: http.Header{
			"Authorization":   {"Bearer " + token},
			"Content-Type":    {"application/json"},
			"Idempotency-Key": {fmt.Sprintf("load-%s-%d", run, n.Add(1))},
		}}
		return nil
	})
	var results []loadResult
	for _, a := range []struct {
		name string
		tr   vegeta.Targeter
		rate int
	}{
		{"GET /v1/products/{id}", get, *loadGetRate},
		{"POST /v1/orders", post, *loadPostRate},
	} {
		results = append(results, attack(ctx, a.name, a.tr, a.rate, *loadDuration))
	}
	sec.Data = results
	sec.Method = fmt.Sprintf("github.com/tsenart/vegeta/v12 as a library, against the deployed local stack (MiniStack on this machine, its API Gateway emulation in front of each function): "+
		"each endpoint at a fixed rate for %v, open model (vegeta sends on schedule whatever the answers), 30 s timeout. GET reads one product; POST places an order of one unit "+
		"with tok_visa, a fresh Idempotency-Key each, as one customer (the sagas it starts keep running after the attack). An error is any transport error or a status "+
		"other than 2xx. Reported, not budgeted: the emulator, not the code, is the bottleneck (one Python process serving every service, and a Lambda "+
		"container start on this 2-core machine for each concurrent instance), so these figures say how the local stack holds up, not what AWS would show.", *loadDuration)
	var b strings.Builder
	b.WriteString("| endpoint | rate/s | duration | requests | p50 ms | p90 ms | p99 ms | max ms | error rate | status codes |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		var codes []string
		for c, n := range r.StatusCodes {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %.0f | %.0f | %.0f | %.0f | %.1f%% | %s |\n", r.Endpoint, r.Rate, r.Duration, r.Requests, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, 100*r.ErrorRate, strings.Join(codes, " "))
	}
	for _, r := range results {
		for _, e := range r.Errors[:min(3, len(r.Errors))] {
			fmt.Fprintf(&b, "\n- %s: %s", r.Endpoint, e)
		}
	}
	sec.Markdown = b.String()
	return sec, nil
}

// attack runs one endpoint at rate per second for d and summarises it.
func attack(ctx context.Context, name string, tr vegeta.Targeter, rate int, d time.Duration) loadResult {
	a := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.MaxWorkers(256), vegeta.KeepAlive(true))
	var m vegeta.Metrics
	results := a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, d, name)
	for {
		select {
		case <-ctx.Done():
			a.Stop()
		case r, ok := <-results:
			if !ok {
				m.Close()
				return summarise(name, rate, d, &m)
			}
			m.Add(r)
			continue
		}
	}
}

func summarise(name string, rate int, d time.Duration, m *vegeta.Metrics) loadResult {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return loadResult{Endpoint: name, Rate: rate, Duration: d.String(), Requests: m.Requests,
		P50Ms: ms(m.Latencies.P50), P90Ms: ms(m.Latencies.P90), P99Ms: ms(m.Latencies.P99), MaxMs: ms(m.Latencies.Max),
		ErrorRate: 1 - m.Success, StatusCodes: m.StatusCodes, Errors: m.Errors}
}
