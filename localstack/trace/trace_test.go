package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/journey.golden from the fixture")

// The fixture (testdata/traces.jsonl) is what the collector writes for one
// order on the local stack, written by hand after the X-Ray segment
// document format and shared/tracing's spans: each span sent when it ends
// (children before their parents); the placement's trace (API call, the
// users and inventory calls, the saga started through Step Functions and
// its four steps, a throttled DynamoDB call and its retry, the payment
// provider's call, the relay's publications and the notifications
// consumer); two cancels later, each a trace of its own (a refusal, a
// fault); another order's trace; and a torn line.
const (
	fixture = "testdata/traces.jsonl"
	orderID = "0b7e7a52-9d7c-4c55-9a43-4d5b2f0f3e11"
)

func journey(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	if err := run(append([]string{"-file", fixture}, args...), func(string) string { return "" }, &out, &errw); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errw.String())
	}
	return out.String(), errw.String()
}

// The whole output, as a reader sees it, is kept in testdata/journey.golden
// (go test -update rewrites it): a change to it shows in review.
func TestJourneyGolden(t *testing.T) {
	out, stderr := journey(t, "-order", orderID)
	golden := filepath.Join("testdata", "journey.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, out)
	}
	if !strings.Contains(stderr, "skipped 1 line(s)") {
		t.Errorf("stderr %q does not report the torn line", stderr)
	}
}

// Every trace of the order, and only those, each once, in the order they
// began.
func TestOrderTraces(t *testing.T) {
	docs := readFixture(t)
	traces := orderTraces(docs, orderID)
	var ids []string
	for _, tr := range traces {
		ids = append(ids, tr.ID)
	}
	want := []string{"1-692e0bd2-6f1e2d3c4b5a69788796a5b4", "1-692e0c0e-a9b8c7d6e5f4a3b2c1d0e9f8", "1-692e0c1a-0f1e2d3c4b5a69788796a5b4"}
	if !slices.Equal(ids, want) {
		t.Errorf("traces %v, want %v", ids, want)
	}
	// Every document of a matched trace, also those not annotated with the
	// order (users-get does not know it).
	if n := len(traces[0].Docs); n != 32 {
		t.Errorf("the placement's trace has %d documents, want 32", n)
	}
	if got := orderTraces(docs, "no-such-order"); len(got) != 0 {
		t.Errorf("an unknown order matched %d traces", len(got))
	}
}

// The tree follows parent_id whatever order the documents arrived in: a
// span's document is sent when it ends, so a child's comes first, and a
// segment's parent may be a subsegment of another function's document.
func TestTreeFollowsParents(t *testing.T) {
	tr := orderTraces(readFixture(t), orderID)[0]
	var lines []string
	walk(tree(tr), 0, func(n *node, depth int) {
		lines = append(lines, strings.Repeat(" ", depth)+n.doc.Name)
	})
	head := strings.Join(lines[:6], "|")
	if want := "orders-create| users|  users-get|   DynamoDB| inventory|  inventory-get"; head != want {
		t.Errorf("tree begins %q, want %q", head, want)
	}
	// The saga's steps continue the span that started the execution (its
	// input carries that span's trace header), in start order; a consumer
	// continues its event's PutEvents subsegment when the SQS message's
	// AWSTraceHeader names it, else the producing span (the traceparent).
	create := tree(tr)[0]
	var steps []string
	for _, c := range create.children {
		if slices.Contains([]string{"inventory-reserve", "payments-charge", "orders-mark-confirmed", "inventory-commit"}, c.doc.Name) {
			steps = append(steps, c.doc.Name)
		}
	}
	if want := []string{"inventory-reserve", "payments-charge", "orders-mark-confirmed", "inventory-commit"}; !slices.Equal(steps, want) {
		t.Errorf("steps under orders-create %v, want %v", steps, want)
	}
	put := find(t, tree(tr), func(n *node) bool {
		return n.doc.Name == "EventBridge" && len(n.children) > 0
	})
	if len(put.children) != 1 || put.children[0].doc.Name != "notifications-notify" || put.children[0].doc.annotation("eventType") != "shop.order.confirmed.v1" {
		t.Errorf("PutEvents children %v, want the notifications consumer of order.confirmed", put.children)
	}
	roots := tree(tr)
	if len(roots) != 1 || roots[0].doc.Name != "orders-create" {
		t.Errorf("roots %d (%s), want orders-create alone: its parent, Lambda's own segment, is not in the file", len(roots), roots[0].doc.Name)
	}
}

func find(t *testing.T, roots []*node, match func(*node) bool) *node {
	t.Helper()
	var found *node
	walk(roots, 0, func(n *node, _ int) {
		if found == nil && match(n) {
			found = n
		}
	})
	if found == nil {
		t.Fatal("no such span")
	}
	return found
}

func readFixture(t *testing.T) []document {
	t.Helper()
	f, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, skipped, err := readDocuments(f)
	if err != nil || skipped != 1 {
		t.Fatalf("readDocuments: skipped %d, %v; want the one torn line skipped", skipped, err)
	}
	return docs
}

func TestDescribeAndOutcome(t *testing.T) {
	for _, tt := range []struct {
		name, doc, describe, outcome string
	}{
		{"invocation on Lambda", `{"type":"subsegment","name":"orders-create","annotations":{"service":"orders"},"http":{"request":{"method":"POST","url":"http://127.0.0.1:4566/_aws/execute-api/abc/$default/v1/orders"},"response":{"status":201}}}`,
			"function POST /v1/orders -> 201", "ok"},
		{"saga step", `{"name":"inventory-reserve","origin":"AWS::Lambda::Function"}`, "function", "ok"},
		{"AWS call", `{"type":"subsegment","namespace":"aws","name":"DynamoDB","aws":{"operation":"TransactWriteItems","table_name":"shop-orders"}}`,
			"AWS DynamoDB TransactWriteItems shop-orders", "ok"},
		{"AWS call on several tables", `{"type":"subsegment","namespace":"aws","name":"DynamoDB","aws":{"operation":"TransactWriteItems","table_names":["shop-inventory","shop-orders"]}}`,
			"AWS DynamoDB TransactWriteItems shop-inventory,shop-orders", "ok"},
		{"remote call", `{"type":"subsegment","namespace":"remote","name":"users","http":{"request":{"method":"GET","url":"https://api.example.com/v1/users/u1"},"response":{"status":404}},"error":true}`,
			"HTTP GET https://api.example.com/v1/users/u1 -> 404", "error"},
		{"throttled", `{"type":"subsegment","namespace":"aws","name":"SQS","aws":{"operation":"SendMessage"},"error":true,"throttle":true,"cause":{"exceptions":[{"message":"slow down","type":"ThrottlingException"}]}}`,
			"AWS SQS SendMessage", "throttle (ThrottlingException: slow down)"},
		{"fault with a cause by id", `{"name":"payments-charge","fault":true,"error":true,"cause":"4b7c1d2e3f405162"}`, "function", "fault"},
		{"in progress", `{"name":"orders-create","in_progress":true}`, "function", "in progress"},
		{"local work", `{"type":"subsegment","name":"hash password"}`, "local", "ok"},
	} {
		docs, skipped, err := readDocuments(strings.NewReader(strings.Replace(tt.doc, "{", `{"id":"1","trace_id":"t",`, 1)))
		if err != nil || skipped != 0 || len(docs) != 1 {
			t.Fatalf("%s: %d docs, %d skipped, %v", tt.name, len(docs), skipped, err)
		}
		if got := describe(&docs[0]); got != tt.describe {
			t.Errorf("%s: describe = %q, want %q", tt.name, got, tt.describe)
		}
		if got := outcome(&docs[0]); got != tt.outcome {
			t.Errorf("%s: outcome = %q, want %q", tt.name, got, tt.outcome)
		}
	}
}

// Subsegments embedded in their segment (what the X-Ray SDKs send) are
// spans of their own; a span sent in progress and then complete is one
// span, the complete one.
func TestReadDocumentsFlattensAndDeduplicates(t *testing.T) {
	in := `{"id":"a","trace_id":"t","name":"orders-get","start_time":1,"in_progress":true}
{"id":"a","trace_id":"t","name":"orders-get","start_time":1,"end_time":2,"subsegments":[{"id":"b","name":"DynamoDB","namespace":"aws","start_time":1.1,"end_time":1.2,"subsegments":[{"id":"c","name":"retry","start_time":1.15,"end_time":1.2}]}]}
{"id":"a","trace_id":"t","name":"orders-get","start_time":1,"in_progress":true}

not json
`
	docs, skipped, err := readDocuments(strings.NewReader(in))
	if err != nil || skipped != 2 {
		t.Fatalf("skipped %d, %v; want the empty line and the junk skipped", skipped, err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want a, b, c: %+v", len(docs), docs)
	}
	if docs[0].InProgress || docs[0].EndTime != 2 {
		t.Errorf("span a: %+v, want the complete document kept", docs[0])
	}
	if docs[1].ParentID != "a" || docs[1].TraceID != "t" || docs[2].ParentID != "b" || docs[2].TraceID != "t" {
		t.Errorf("embedded subsegments: %+v %+v, want parents a and b in trace t", docs[1], docs[2])
	}
}

// The diagram is valid Mermaid in the shape the journey has: every
// participant declared before use, identifiers Mermaid can parse, the
// saga's steps invoked by Step Functions and answered, the relays reading
// their producer's outbox, the consumers reached through EventBridge
// (whether their span continues the PutEvents call or the producer).
func TestSequenceDiagram(t *testing.T) {
	tr := orderTraces(readFixture(t), orderID)[0]
	var b bytes.Buffer
	writeSequence(&b, tr)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if lines[0] != "```mermaid" || lines[1] != "sequenceDiagram" || lines[len(lines)-1] != "```" {
		t.Fatalf("not a fenced Mermaid sequence diagram:\n%s", b.String())
	}
	declared := map[string]bool{}
	participant := regexp.MustCompile(`^    (?:actor (\w+)|participant (\w+)(?: as [\w -]+)?)$`)
	arrow := regexp.MustCompile(`^    (\w+)(->>|-->>|-\))(\w+): (.+)$`)
	note := regexp.MustCompile(`^    Note over (\w+): (.+)$`)
	var messages []string
	for _, l := range lines[2 : len(lines)-1] {
		if m := participant.FindStringSubmatch(l); m != nil {
			declared[m[1]+m[2]] = true
			continue
		}
		if m := arrow.FindStringSubmatch(l); m != nil {
			if !declared[m[1]] || !declared[m[3]] {
				t.Errorf("%q uses an undeclared participant", l)
			}
			messages = append(messages, m[1]+m[2]+m[3]+": "+m[4])
			continue
		}
		if m := note.FindStringSubmatch(l); m != nil {
			if !declared[m[1]] {
				t.Errorf("%q uses an undeclared participant", l)
			}
			messages = append(messages, "note "+m[1]+": "+m[2])
			continue
		}
		t.Errorf("line %q is no participant, message or note", l)
	}
	for _, p := range []string{"Client", "orders_create", "users_get", "DynamoDB", "SFN", "EventBridge", "inventory_reserve", "payments_charge", "orders_mark_confirmed", "inventory_commit", "orders_relay", "notifications_notify", "provider_charge"} {
		if !declared[p] {
			t.Errorf("participant %s is not declared", p)
		}
	}
	// In this order, with others between them.
	want := []string{
		"Client->>orders_create: POST /v1/orders",
		"orders_create->>users_get: GET /v1/users/u-2c9f",
		"users_get-->>orders_create: 200 ok (48.9 ms)",
		"orders_create->>DynamoDB: TransactWriteItems",
		"orders_create->>SFN: StartExecution",
		"orders_create-->>Client: 202 ok (161.3 ms)",
		"SFN->>inventory_reserve: invoke",
		"orders_create-)orders_relay: shop.order.created.v1 (outbox)",
		"orders_relay->>EventBridge: PutEvents",
		"DynamoDB-->>inventory_reserve: throttle (18.3 ms): ProvisionedThroughputExceededException: Throughput exceeds the current capaci...",
		"inventory_reserve-->>SFN: ok (58.0 ms)",
		"SFN->>payments_charge: invoke",
		"payments_charge->>provider_charge: POST /provider/v1/charges",
		"SFN->>orders_mark_confirmed: invoke",
		"SFN->>inventory_commit: invoke",
		"EventBridge-)notifications_notify: shop.order.created.v1",
		"note notifications_notify: ok (70.8 ms)",
		"EventBridge-)notifications_notify: shop.order.confirmed.v1",
	}
	i := 0
	for _, m := range messages {
		if i < len(want) && m == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("message %q missing or out of order; the diagram's messages:\n%s", want[i], strings.Join(messages, "\n"))
	}
}

func TestRunErrors(t *testing.T) {
	env := func(string) string { return "" }
	var out, errw bytes.Buffer
	if err := run([]string{"-file", fixture}, env, &out, &errw); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no -order: %v", err)
	}
	err := run([]string{"-file", filepath.Join(t.TempDir(), "traces.jsonl"), "-order", orderID}, env, &out, &errw)
	if err == nil || !strings.Contains(err.Error(), "ministack.sh start") {
		t.Errorf("a missing file: %v, want a hint at the collector", err)
	}
	err = run([]string{"-file", fixture, "-order", "nobody"}, env, &out, &errw)
	if err == nil || !strings.Contains(err.Error(), "orderId=nobody") || !strings.Contains(err.Error(), "38 documents") {
		t.Errorf("an unknown order: %v", err)
	}
}

// The default file is the one ministack.sh writes for $GATEWAY_PORT.
func TestDefaultFile(t *testing.T) {
	for port, want := range map[string]string{"": ".local/traces.jsonl", "4566": ".local/traces.jsonl", "4620": ".local/traces-4620.jsonl"} {
		if got := defaultFile(func(string) string { return port }); got != want {
			t.Errorf("GATEWAY_PORT=%q: %s, want %s", port, got, want)
		}
	}
}
