package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/manifest"
)

// The cost run's orders of each outcome (flags of the section's own).
var (
	costConfirmed  = flag.Int("cost-confirmed", 6, "cost section: orders that end CONFIRMED")
	costDeclined   = flag.Int("cost-declined", 3, "cost section: orders the provider declines")
	costOutOfStock = flag.Int("cost-out-of-stock", 3, "cost section: orders over the stock")
	costTraces     = flag.String("cost-traces", "", "cost section: the trace collector's file (default from $GATEWAY_PORT, as make trace)")
)

// Budgets of issue 12, item 3.
const (
	maxTransitionsHappy = 8
	// The critical path of POST /v1/orders is the user check and
	// catalog read side by side, then one transaction, then one
	// StartExecution: 3 round trips. The route also requires an
	// Idempotency-Key, whose record is written before the handler runs and
	// completed after it (shared/idempotency): 2 more, which the budget
	// counts rather than hides.
	maxCriticalRoundTrips = 5
)

// SQS requests per message a consumer handles: EventBridge's SendMessage
// to the queue, and the event source mapping's ReceiveMessage and
// DeleteMessage (at batch size 1; the mapping's idle long polls are a
// fixed cost per queue, not per order).
const sqsRequestsPerMessage = 3

// outsideServices are services of the local stack that stand in for an
// outside party (the payment provider): their functions and calls are no
// cost of the shop's.
var outsideServices = map[string]bool{"provider": true}

// orderReport is one order of the run, as measured.
type orderReport struct {
	ID           string     `json:"id"`
	Outcome      string     `json:"outcome"`
	Execution    string     `json:"execution"`
	Transitions  int        `json:"transitions"`
	TookMs       int64      `json:"tookMs"`
	Usage        usage      `json:"usage"`
	CriticalPath []step     `json:"longestChain"` // upper bound of the sequential round trips
	Phases       [][]string `json:"phases"`       // lower bound: calls side by side, phase after phase
}

// outcomeReport is the mean order of one outcome.
type outcomeReport struct {
	Outcome      string             `json:"outcome"`
	Orders       int                `json:"orders"`
	Transitions  float64            `json:"transitionsPerOrder"`
	Invocations  map[string]float64 `json:"invocationsPerOrder"`
	GBSeconds    float64            `json:"gbSecondsPerOrder"`
	Calls        map[string]float64 `json:"requestsPerOrder"`
	APIRequests  float64            `json:"apiRequestsPerOrder"`
	SQSRequests  float64            `json:"sqsRequestsPerOrder"`
	LocalOnly    float64            `json:"localOnlyCallsLeftOut"`
	Bill         bill               `json:"bill"`
	RoundTrips   []int              `json:"criticalPhases"`
	SampleOrders []string           `json:"orderIds"`
}

type costData struct {
	Prices   map[string]any     `json:"prices"`
	Outcomes []outcomeReport    `json:"outcomes"`
	Orders   []orderReport      `json:"orders"`
	Items    map[string]float64 `json:"itemsPerRequest"`
}

func costSection(ctx context.Context, o options) (section, error) {
	sec := section{ID: "cost", Title: "AWS round trips and dollars per million orders"}
	s, err := connectStack(ctx, o)
	if errors.Is(err, errNoStack) {
		sec.Method = "Not measured: " + err.Error() + "."
		sec.Markdown = "**skipped: no stack**\n"
		sec.Budgets = costBudgets(nil, nil, err.Error())
		return sec, nil
	}
	if err != nil {
		return sec, err
	}
	set, err := manifest.Load(o.Root)
	if err != nil {
		return sec, err
	}
	file := *costTraces
	if file == "" {
		file = filepath.Join(o.Root, tracesFile(os.Getenv("GATEWAY_PORT")))
	}
	began := time.Now()
	run := fmt.Sprint(began.UnixNano())
	placed, err := driveCost(ctx, s, costPlan{*costConfirmed, *costDeclined, *costOutOfStock}, run)
	if err != nil {
		return sec, err
	}
	// The last events (an order's confirmed or cancelled event, its relay
	// and consumers) land after the execution ends: wait until the
	// collector's file is quiet.
	awaitQuiet(file, 3*time.Second, 45*time.Second)
	spans, err := readSpansFile(file)
	if err != nil {
		return sec, err
	}
	items := itemsPerRequest(ctx, s, set, began)
	data := analyseCost(set, spans, placed, items)
	sec.Data = data
	sec.Method = costMethod(data, time.Since(began))
	sec.Markdown = costMarkdown(data)
	sec.Budgets = costBudgets(data.Outcomes, data.Orders, "")
	return sec, nil
}

func tracesFile(port string) string {
	if port == "" || port == "4566" {
		return ".local/traces.jsonl"
	}
	return ".local/traces-" + port + ".jsonl"
}

func readSpansFile(name string) ([]span, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("the trace collector's file: %w", err)
	}
	defer f.Close()
	return readSpans(f)
}

// awaitQuiet waits until name has not grown for quiet (at most max).
func awaitQuiet(name string, quiet, max time.Duration) {
	end := time.Now().Add(max)
	size, since := int64(-1), time.Now()
	for time.Now().Before(end) {
		st, err := os.Stat(name)
		if err == nil && st.Size() != size {
			size, since = st.Size(), time.Now()
		}
		if time.Since(since) >= quiet {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// functionIndex is what the manifests say of each function by name.
type functionIndex map[string]*manifest.Function

func indexFunctions(set *manifest.Set) functionIndex {
	idx := functionIndex{}
	for _, fn := range set.Functions() {
		idx[fn.Name] = fn
	}
	if a := set.Authorizer(); a != nil {
		idx[a.Name] = a
	}
	return idx
}

// analyseCost measures every order from its placement trace and execution
// history, then the mean order of each outcome and its bill.
func analyseCost(set *manifest.Set, spans []span, placed []placedOrder, items map[string]float64) costData {
	fns := indexFunctions(set)
	outside := func(fn string) bool { f := fns[fn]; return f != nil && outsideServices[f.Service] }
	data := costData{Items: items, Prices: map[string]any{
		"date": priceDate, "region": priceRegion,
		"lambdaPerGBSecondArm64": lambdaPerGBSecondARM, "lambdaPerRequest": lambdaPerRequest, "apiGatewayHTTPPerRequest": apiGatewayHTTP,
		"dynamoDBPerWRU": dynamoPerWRU, "dynamoDBPerRRU": dynamoPerRRU, "stepFunctionsPerTransition": sfnPerTransition,
		"eventBridgePerEvent": eventBridgePerEvent, "sqsPerRequest": sqsPerRequest, "secretsManagerPerCall": secretsPerCall,
	}}
	byOutcome := map[string]*outcomeReport{}
	for _, p := range placed {
		trace := placementTrace(spans, p.ID)
		r := orderReport{ID: p.ID, Outcome: p.Outcome, Execution: p.Status, Transitions: p.Transitions, TookMs: p.Took.Milliseconds(), Usage: usageOf(trace, outside)}
		for _, sp := range trace {
			if sp.invocation() && sp.Name == "orders-create" {
				r.CriticalPath, r.Phases = longestChain(trace, sp), phases(trace, sp)
			}
		}
		data.Orders = append(data.Orders, r)
		o := byOutcome[p.Outcome]
		if o == nil {
			o = &outcomeReport{Outcome: p.Outcome, Invocations: map[string]float64{}, Calls: map[string]float64{}}
			byOutcome[p.Outcome] = o
		}
		o.Orders++
		o.SampleOrders = append(o.SampleOrders, p.ID)
		o.Transitions += float64(r.Transitions)
		o.LocalOnly += float64(r.Usage.LocalOnly)
		o.RoundTrips = append(o.RoundTrips, len(r.Phases))
		for fn, n := range r.Usage.Invocations {
			o.Invocations[fn] += float64(n)
			f := fns[fn]
			mem := 128
			if f != nil {
				mem = f.MemoryMB
				if f.Kind == "http" {
					o.APIRequests += float64(n)
				}
				if f.Kind == "event" {
					o.SQSRequests += float64(n * sqsRequestsPerMessage)
				}
			}
			o.GBSeconds += r.Usage.DurationMs[fn] / 1000 * float64(mem) / 1024
		}
		for c, n := range r.Usage.Calls {
			o.Calls[c] += float64(n)
		}
	}
	for _, name := range []string{outcomeConfirmed, outcomeDeclined, outcomeOutOfStock} {
		o := byOutcome[name]
		if o == nil || o.Orders == 0 {
			continue
		}
		n := float64(o.Orders)
		o.Transitions /= n
		o.GBSeconds /= n
		o.APIRequests /= n
		o.SQSRequests /= n
		o.LocalOnly /= n
		for k := range o.Invocations {
			o.Invocations[k] /= n
		}
		for k := range o.Calls {
			o.Calls[k] /= n
		}
		o.Bill = price(costInput{Invocations: o.Invocations, GBSeconds: o.GBSeconds, Calls: o.Calls, ItemsPerCall: items,
			APIRequests: o.APIRequests, Transitions: o.Transitions, SQSRequests: o.SQSRequests})
		data.Outcomes = append(data.Outcomes, *o)
	}
	return data
}

func costBudgets(outcomes []outcomeReport, orders []orderReport, skipped string) []budget {
	tr := budget{Name: "Step Functions transitions per happy order", Limit: fmt.Sprint(maxTransitionsHappy)}
	rt := budget{Name: "sequential round trips on POST /v1/orders' critical path", Limit: fmt.Sprintf("%d (users ∥ catalog, TransactWriteItems, StartExecution, + the idempotency record's put and completion)", maxCriticalRoundTrips)}
	if skipped != "" {
		tr.WhyNot, rt.WhyNot = skipped, skipped
		return []budget{tr, rt}
	}
	for _, o := range outcomes {
		if o.Outcome == outcomeConfirmed {
			tr.Measured = fmt.Sprintf("%.1f", o.Transitions)
			tr.Held = o.Transitions <= maxTransitionsHappy
		}
	}
	switch {
	case tr.Measured == "":
		tr.WhyNot = "no order confirmed"
	case !tr.Held:
		tr.WhyNot = "the saga enters more states than the budget"
	}
	var trips, chains []int
	worst := -1
	for i, o := range orders {
		if len(o.Phases) == 0 {
			continue
		}
		trips, chains = append(trips, len(o.Phases)), append(chains, len(o.CriticalPath))
		if worst < 0 || len(o.Phases) > len(orders[worst].Phases) {
			worst = i
		}
	}
	if len(trips) == 0 {
		rt.WhyNot = "no orders-create span in the traces"
		return []budget{tr, rt}
	}
	sort.Ints(trips)
	sort.Ints(chains)
	med := trips[len(trips)/2]
	rt.Measured = fmt.Sprintf("median %d phases (min %d, max %d over %d orders); longest chain median %d", med, trips[0], trips[len(trips)-1], len(trips), chains[len(chains)/2])
	rt.Held = med <= maxCriticalRoundTrips
	if !rt.Held {
		var ps []string
		for _, p := range orders[worst].Phases {
			ps = append(ps, strings.Join(p, " ∥ "))
		}
		rt.WhyNot = "sequential: " + strings.Join(ps, " → ")
	}
	return []budget{tr, rt}
}

func costMethod(d costData, took time.Duration) string {
	n := map[string]int{}
	for _, o := range d.Orders {
		n[o.Outcome]++
	}
	return fmt.Sprintf("A real end-to-end run on the local stack (MiniStack, deployed by localstack/deploy): %d orders that end CONFIRMED (tok_visa), %d the provider declines, "+
		"%d over the stock, 3 at a time, in %v. Each order is measured from its placement trace (the X-Ray segments the functions send to the local collector, "+
		"localstack/xray: the saga's steps, the relays and the consumers continue the trace of POST /v1/orders): function invocations and their durations "+
		"(billed ms, rounded up; GB-s with each function's memory from its manifest), and every AWS request as an SDK subsegment (a retried request counts once; "+
		"the fault switch's reads, which only the local stack makes, are marked local_only and left out). Step Functions transitions come from the execution's history "+
		"(every state entered, and every retry of a Task, as AWS bills standard workflows). DynamoDB units assume the shop's small items (a write 1 WRU per item, 2 in a "+
		"transaction; a read 1 RRU, the strongly consistent upper bound); items per batch or transaction request come from the functions' awscalls lines (shared/awscalls) of the run. "+
		"EventBridge events: one per PutEvents request (the relays put one event per stream record). SQS requests are not in any trace (the event source mapping polls): %d per message a "+
		"consumer handles (EventBridge's SendMessage, the mapping's ReceiveMessage and DeleteMessage). API Gateway requests: invocations of http functions (the client's POST, and the "+
		"users and catalog calls orders-create makes through the API). The payment provider's functions stand in for an outside party and are left out. "+
		"Critical path: the calls orders-create made itself, grouped into phases (calls that overlap ran side by side; a phase starts when the one before has ended: the lower bound of its sequential round trips, and what the budget counts), and its longest chain of calls one after another (the upper bound: two parallel branches' calls that happen not to overlap join it). "+
		"Prices: %s, %s; free tiers left out. Not counted: CloudWatch Logs ingestion, X-Ray traces, data transfer, the authorizer (API Gateway caches its answer per token).",
		n[outcomeConfirmed], n[outcomeDeclined], n[outcomeOutOfStock], took.Round(time.Second), sqsRequestsPerMessage, priceRegion, priceDate)
}

func costMarkdown(d costData) string {
	var b strings.Builder
	cols := d.Outcomes
	header := func(first string) {
		fmt.Fprintf(&b, "| %s |", first)
		for _, o := range cols {
			fmt.Fprintf(&b, " %s (%d) |", o.Outcome, o.Orders)
		}
		b.WriteString("\n|---|")
		for range cols {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
	}
	row := func(name string, f func(o outcomeReport) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, o := range cols {
			fmt.Fprintf(&b, " %s |", f(o))
		}
		b.WriteString("\n")
	}
	b.WriteString("Per order, by outcome (means):\n\n")
	header("per order")
	row("**dollars per million orders**", func(o outcomeReport) string { return fmt.Sprintf("**$%.2f**", o.Bill.Total) })
	row("Step Functions transitions", func(o outcomeReport) string { return fmt.Sprintf("%.1f", o.Transitions) })
	row("Lambda invocations", func(o outcomeReport) string { return fmt.Sprintf("%.1f", sum(o.Invocations)) })
	row("Lambda GB-s", func(o outcomeReport) string { return fmt.Sprintf("%.4f", o.GBSeconds) })
	row("API Gateway requests", func(o outcomeReport) string { return fmt.Sprintf("%.1f", o.APIRequests) })
	row("AWS requests (SDK)", func(o outcomeReport) string { return fmt.Sprintf("%.1f", sum(o.Calls)) })
	row("SQS requests (estimated)", func(o outcomeReport) string { return fmt.Sprintf("%.1f", o.SQSRequests) })
	row("fault-switch reads left out", func(o outcomeReport) string { return fmt.Sprintf("%.1f", o.LocalOnly) })
	row("biggest line items", func(o outcomeReport) string {
		var top []string
		for _, l := range o.Bill.Lines[:min(3, len(o.Bill.Lines))] {
			top = append(top, fmt.Sprintf("%s $%.2f", l.Name, l.Dollars))
		}
		return strings.Join(top, "; ")
	})
	b.WriteString("\nAWS requests per order by service and operation:\n\n")
	header("request")
	calls := map[string]bool{}
	for _, o := range cols {
		for c := range o.Calls {
			calls[c] = true
		}
	}
	for _, c := range slices.Sorted(maps.Keys(calls)) {
		row(c, func(o outcomeReport) string { return fmt.Sprintf("%.2f", o.Calls[c]) })
	}
	b.WriteString("\nLambda invocations per order by function:\n\n")
	header("function")
	fns := map[string]bool{}
	for _, o := range cols {
		for f := range o.Invocations {
			fns[f] = true
		}
	}
	for _, f := range slices.Sorted(maps.Keys(fns)) {
		row(f, func(o outcomeReport) string { return fmt.Sprintf("%.2f", o.Invocations[f]) })
	}
	b.WriteString("\nDollars per million orders, every line (biggest first):\n\n| outcome | line | per order | $ per million orders |\n|---|---|---:|---:|\n")
	for _, o := range cols {
		for _, l := range o.Bill.Lines {
			fmt.Fprintf(&b, "| %s | %s | %.4g %s | %.2f |\n", o.Outcome, l.Name, l.Quantity, l.Unit, l.Dollars)
		}
	}
	for _, o := range d.Orders {
		if o.Outcome != outcomeConfirmed || len(o.Phases) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nCritical path of POST /v1/orders (order %s): %d phases of calls side by side (lower bound)\n\n| phase | calls |\n|---:|---|\n", o.ID, len(o.Phases))
		for i, p := range o.Phases {
			fmt.Fprintf(&b, "| %d | %s |\n", i+1, strings.Join(p, " ∥ "))
		}
		fmt.Fprintf(&b, "\nand its longest chain of calls one after another (upper bound: %d):\n\n| # | call | ms (emulator) | overlapped by |\n|---:|---|---:|---|\n", len(o.CriticalPath))
		for i, s := range o.CriticalPath {
			fmt.Fprintf(&b, "| %d | %s | %.1f | %s |\n", i+1, s.Call, s.Ms, strings.Join(s.Parallel, ", "))
		}
		break
	}
	return b.String()
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}
