package main

import (
	"math"
	"reflect"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/shop-serverless/shop/shared/awscalls"
)

// The spans of one small order, as shared/tracing sends them: orders-create
// reads the order (after the fault switch, local only), asks users and the
// catalog side by side, then writes and starts the saga; a saga step's
// invocation continues the trace; the provider stands outside the shop.
const traceFixture = `{"name":"orders-create","id":"c","trace_id":"T","start_time":100.000,"end_time":100.200,"annotations":{"service":"orders","orderId":"o1"}}
{"name":"DynamoDB","id":"f","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"aws","start_time":100.001,"end_time":100.002,"aws":{"operation":"GetItem","table_name":"shop-orders","local_only":"faults"}}
{"name":"DynamoDB","id":"g","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"aws","start_time":100.003,"end_time":100.010,"aws":{"operation":"GetItem","table_name":"shop-orders"}}
{"name":"users","id":"u","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"remote","start_time":100.011,"end_time":100.100,"http":{"request":{"method":"GET","url":"http://x/v1/users/1"}}}
{"name":"inventory","id":"i","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"remote","start_time":100.012,"end_time":100.090,"http":{"request":{"method":"GET","url":"http://x/v1/products"}}}
{"name":"users-get","id":"ug","trace_id":"T","parent_id":"u","type":"subsegment","start_time":100.020,"end_time":100.0905,"annotations":{"service":"users"}}
{"name":"DynamoDB","id":"ugd","trace_id":"T","parent_id":"ug","type":"subsegment","namespace":"aws","start_time":100.021,"end_time":100.030,"aws":{"operation":"GetItem","table_name":"shop-users"}}
{"name":"DynamoDB","id":"t","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"aws","start_time":100.101,"end_time":100.120,"aws":{"operation":"TransactWriteItems","table_names":["shop-orders"]}}
{"name":"SFN","id":"s","trace_id":"T","parent_id":"c","type":"subsegment","namespace":"aws","start_time":100.121,"end_time":100.150,"aws":{"operation":"StartExecution"}}
{"name":"payments-charge","id":"p","trace_id":"T","parent_id":"s","type":"subsegment","start_time":101.000,"end_time":101.0101,"in_progress":true,"annotations":{"service":"payments"}}
{"name":"payments-charge","id":"p","trace_id":"T","parent_id":"s","type":"subsegment","start_time":101.000,"end_time":101.0201,"annotations":{"service":"payments"}}
{"name":"provider-charge","id":"pc","trace_id":"T","parent_id":"p","type":"subsegment","start_time":101.005,"end_time":101.015,"annotations":{"service":"provider"}}
{"name":"DynamoDB","id":"pcd","trace_id":"T","parent_id":"pc","type":"subsegment","namespace":"aws","start_time":101.006,"end_time":101.007,"aws":{"operation":"UpdateItem","table_name":"shop-provider"}}
not a document
{"name":"orders-get","id":"later","trace_id":"T2","start_time":200,"end_time":200.01,"annotations":{"service":"orders","orderId":"o1"}}
`

func fixtureTrace(t *testing.T) ([]span, span) {
	t.Helper()
	spans, err := readSpans(strings.NewReader(traceFixture))
	if err != nil {
		t.Fatal(err)
	}
	trace := placementTrace(spans, "o1")
	if len(trace) != 12 {
		t.Fatalf("placement trace has %d spans, want 12 (the later GET's trace left out, the in-progress copy replaced)", len(trace))
	}
	for _, s := range trace {
		if s.Name == "orders-create" {
			return trace, s
		}
	}
	t.Fatal("no orders-create span")
	return nil, span{}
}

func TestUsageOfCountsInvocationsAndCallsAsAWSWould(t *testing.T) {
	trace, _ := fixtureTrace(t)
	u := usageOf(trace, func(fn string) bool { return fn == "provider-charge" })
	wantInv := map[string]int{"orders-create": 1, "users-get": 1, "payments-charge": 1}
	if !reflect.DeepEqual(u.Invocations, wantInv) {
		t.Errorf("invocations %v, want %v", u.Invocations, wantInv)
	}
	wantCalls := map[string]int{"DynamoDB GetItem": 2, "DynamoDB TransactWriteItems": 1, "SFN StartExecution": 1}
	if !reflect.DeepEqual(u.Calls, wantCalls) {
		t.Errorf("calls %v, want %v (the fault switch and the provider's calls left out)", u.Calls, wantCalls)
	}
	if u.LocalOnly != 1 {
		t.Errorf("local-only calls %d, want 1", u.LocalOnly)
	}
	// Billed duration rounds each invocation up to the next millisecond:
	// the complete payments-charge span (20.1 ms), not its in-progress copy.
	if got := u.DurationMs["payments-charge"]; got != 21 {
		t.Errorf("payments-charge billed %v ms, want 21", got)
	}
	if got := u.DurationMs["users-get"]; got != 71 {
		t.Errorf("users-get billed %v ms, want 71", got)
	}
}

func TestCriticalPathOfCreate(t *testing.T) {
	trace, create := fixtureTrace(t)
	got := phases(trace, create)
	want := [][]string{
		{"DynamoDB GetItem shop-orders"},
		{"HTTP GET users", "HTTP GET inventory"},
		{"DynamoDB TransactWriteItems shop-orders"},
		{"SFN StartExecution"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("phases\n%v, want\n%v (the fault switch's read and the users function's own call are no round trip of create's)", got, want)
	}
	chain := longestChain(trace, create)
	var calls []string
	for _, s := range chain {
		calls = append(calls, s.Call)
	}
	if want := []string{"DynamoDB GetItem shop-orders", "HTTP GET users", "DynamoDB TransactWriteItems shop-orders", "SFN StartExecution"}; !reflect.DeepEqual(calls, want) {
		t.Errorf("longest chain %v, want %v", calls, want)
	}
	if !reflect.DeepEqual(chain[1].Parallel, []string{"HTTP GET inventory"}) {
		t.Errorf("users call overlapped by %v, want the catalog read", chain[1].Parallel)
	}
}

func TestPhasesSplitOnlyWhatDoesNotOverlap(t *testing.T) {
	inv := span{ID: "inv", TraceID: "T", Annotations: map[string]any{"service": "orders"}}
	call := func(id string, start, end float64) span {
		return span{Name: "DynamoDB", ID: id, TraceID: "T", ParentID: "inv", Namespace: "aws", Start: start, End: end, AWS: map[string]any{"operation": id}}
	}
	// a overlaps b, b overlaps c (a and c do not): one phase; d after all.
	trace := []span{inv, call("a", 0, 2), call("b", 1, 4), call("c", 3, 5), call("d", 5, 6)}
	got := phases(trace, inv)
	if len(got) != 2 || len(got[0]) != 3 {
		t.Errorf("phases %v, want [a b c] then [d]", got)
	}
	// The longest chain is a, c, d: a ends before c starts.
	if chain := longestChain(trace, inv); len(chain) != 3 {
		t.Errorf("longest chain %v, want 3 steps", chain)
	}
}

func TestParentCyclesDoNotHang(t *testing.T) {
	a := span{ID: "a", ParentID: "b", Namespace: "aws"}
	b := span{ID: "b", ParentID: "a", Namespace: "aws"}
	if got := invokerOf(map[string]span{"a": a, "b": b}, a); got.ID != "" {
		t.Errorf("invoker of a cycle = %+v, want none", got)
	}
}

func TestTransitionsCountStatesEnteredAndRetries(t *testing.T) {
	ev := func(t sfntypes.HistoryEventType) sfntypes.HistoryEvent { return sfntypes.HistoryEvent{Type: t} }
	history := []sfntypes.HistoryEvent{
		ev(sfntypes.HistoryEventTypeExecutionStarted),
		ev(sfntypes.HistoryEventTypeChoiceStateEntered),
		ev(sfntypes.HistoryEventTypeChoiceStateExited),
		ev(sfntypes.HistoryEventTypeTaskStateEntered),
		ev(sfntypes.HistoryEventTypeTaskScheduled),
		ev(sfntypes.HistoryEventTypeTaskFailed),
		ev(sfntypes.HistoryEventTypeTaskScheduled), // a retry
		ev(sfntypes.HistoryEventTypeTaskSucceeded),
		ev(sfntypes.HistoryEventTypeTaskStateExited),
		ev(sfntypes.HistoryEventTypeTaskStateEntered),
		ev(sfntypes.HistoryEventTypeLambdaFunctionScheduled),
		ev(sfntypes.HistoryEventTypeSucceedStateEntered),
		ev(sfntypes.HistoryEventTypeExecutionSucceeded),
	}
	if got := transitions(history); got != 5 {
		t.Errorf("transitions = %d, want 5 (4 states entered, 1 retry)", got)
	}
}

func TestMeanItemsPerRequest(t *testing.T) {
	key := func(pk string) map[string]string { return map[string]string{"pk": pk} }
	calls := []awscalls.Call{
		{Service: "dynamodb", Operation: "TransactWriteItems", Needs: []awscalls.Need{{Keys: []map[string]string{key("a")}}, {Keys: []map[string]string{key("b")}}, {Keys: []map[string]string{key("c")}}}},
		{Service: "dynamodb", Operation: "TransactWriteItems", Needs: []awscalls.Need{{Keys: []map[string]string{key("a")}}}},
		{Service: "dynamodb", Operation: "BatchGetItem", Needs: []awscalls.Need{{Keys: []map[string]string{key("a"), key("b")}}}},
		{Service: "dynamodb", Operation: "GetItem", Needs: []awscalls.Need{{Keys: []map[string]string{key("a")}}}},
		{Service: "dynamodb", Operation: "BatchGetItem", LocalOnly: "faults", Needs: []awscalls.Need{{Keys: []map[string]string{key("a"), key("b"), key("c"), key("d")}}}},
	}
	got := meanItems(calls)
	want := map[string]float64{"DynamoDB TransactWriteItems": 2, "DynamoDB BatchGetItem": 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("meanItems = %v, want %v", got, want)
	}
}

func TestPriceOfAnOrder(t *testing.T) {
	b := price(costInput{
		Invocations:  map[string]float64{"orders-create": 1, "users-get": 1},
		GBSeconds:    0.5,
		Calls:        map[string]float64{"DynamoDB GetItem": 2, "DynamoDB TransactWriteItems": 1, "DynamoDB PutItem": 1, "EventBridge PutEvents": 2, "SFN StartExecution": 1},
		ItemsPerCall: map[string]float64{"DynamoDB TransactWriteItems": 3},
		APIRequests:  2, Transitions: 8, SQSRequests: 3,
	})
	want := map[string]float64{
		"Step Functions":          8 * 25,          // $0.025 per 1000
		"DynamoDB writes":         (6 + 1) * 0.625, // 3 items × 2 in a transaction, 1 put
		"DynamoDB reads":          2 * 0.125,
		"Lambda duration (arm64)": 0.5 * 13.3334,
		"Lambda requests":         2 * 0.2,
		"API Gateway HTTP API":    2 * 1,
		"EventBridge":             2 * 1,
		"SQS":                     3 * 0.4,
	}
	total := 0.0
	for _, l := range b.Lines {
		w, ok := want[l.Name]
		if !ok || math.Abs(l.Dollars-w) > 1e-9 {
			t.Errorf("%s: $%v per million orders, want $%v", l.Name, l.Dollars, w)
		}
		total += w
		delete(want, l.Name)
	}
	if len(want) > 0 {
		t.Errorf("lines missing: %v", want)
	}
	if math.Abs(b.Total-total) > 1e-9 || b.Lines[0].Name != "Step Functions" {
		t.Errorf("total $%v (want $%v), first line %s (want the biggest, Step Functions)", b.Total, total, b.Lines[0].Name)
	}
}

func TestCostBudgets(t *testing.T) {
	orders := []orderReport{
		{Outcome: outcomeConfirmed, Phases: [][]string{{"a"}, {"b", "c"}, {"d"}, {"e"}, {"f"}, {"g"}}},
		{Outcome: outcomeConfirmed, Phases: [][]string{{"a"}, {"b", "c"}, {"d"}, {"e"}, {"f"}}},
		{Outcome: outcomeDeclined, Phases: [][]string{{"a"}, {"b", "c"}, {"d"}, {"e"}, {"f"}}},
	}
	got := costBudgets([]outcomeReport{{Outcome: outcomeConfirmed, Transitions: 9}}, orders, "")
	if got[0].Held || got[0].Measured != "9.0" {
		t.Errorf("9 transitions: %+v, want missed", got[0])
	}
	if !got[1].Held || !strings.HasPrefix(got[1].Measured, "median 5 phases (min 5, max 6") {
		t.Errorf("round trips: %+v, want held at median 5", got[1])
	}
	for _, b := range costBudgets(nil, nil, "skipped: no stack") {
		if b.Held || b.Measured != "" || b.WhyNot != "skipped: no stack" {
			t.Errorf("no stack: %+v, want not measured", b)
		}
	}
}
