package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// One order's journey is one trace: its API call, the users call, the saga
// started through Step Functions and each of its steps, the events it
// published and their consumers, as the local trace collector
// (localstack/xray, run by ministack.sh beside the emulator) received the
// functions' segments; and `make trace` (localstack/trace) prints it in
// order.

// span is the part of a segment document this test looks at.
type span struct {
	Name        string         `json:"name"`
	ID          string         `json:"id"`
	TraceID     string         `json:"trace_id"`
	ParentID    string         `json:"parent_id"`
	Type        string         `json:"type"`
	Namespace   string         `json:"namespace"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time"`
	InProgress  bool           `json:"in_progress"`
	Annotations map[string]any `json:"annotations"`
	AWS         struct {
		Operation string `json:"operation"`
	} `json:"aws"`
	HTTP struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"http"`
}

func (s span) annotation(key string) string {
	v, ok := s.Annotations[key]
	if !ok {
		return ""
	}
	if str, ok := v.(string); ok {
		return str
	}
	return fmt.Sprint(v)
}

// tracesFile is the trace collector's file of the emulator the tests run
// against: ministack.sh names it after the emulator's port. Without an
// emulator the test skips (fails under SHOP_REQUIRE_EMULATOR=1); an
// emulator without its collector's file fails it.
func tracesFile(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
			t.Fatal("SHOP_REQUIRE_EMULATOR=1 but AWS_ENDPOINT_URL is not set")
		}
		t.Skip("traces: set AWS_ENDPOINT_URL to a running emulator (make test does)")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Port() == "" {
		t.Fatalf("AWS_ENDPOINT_URL %q names no port: which collector's traces?", endpoint)
	}
	name := "traces-" + u.Port() + ".jsonl"
	if u.Port() == "4566" {
		name = "traces.jsonl"
	}
	path, err := filepath.Abs(filepath.Join("..", ".local", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the emulator on port %s has no traces file: %v (localstack/ministack.sh start runs the trace collector beside it)", u.Port(), err)
	}
	return path
}

// readSpans reads every document in the collector's file.
func readSpans(t *testing.T, path string) []span {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var spans []span
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s span
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.ID != "" {
			spans = append(spans, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return spans
}

// journey is one trace's spans, by id, with the checks below.
type journey struct {
	byID  map[string]span
	spans []span
}

func newJourney(spans []span, traceID string) journey {
	j := journey{byID: map[string]span{}}
	for _, s := range spans {
		if s.TraceID == traceID {
			j.byID[s.ID] = s
			j.spans = append(j.spans, s)
		}
	}
	return j
}

// under reports whether s descends from the span with id ancestor.
func (j journey) under(s span, ancestor string) bool {
	for seen := 0; s.ParentID != "" && seen < len(j.spans); seen++ {
		if s.ParentID == ancestor {
			return true
		}
		p, ok := j.byID[s.ParentID]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

func (j journey) find(match func(span) bool) []span {
	var found []span
	for _, s := range j.spans {
		if match(s) {
			found = append(found, s)
		}
	}
	slices.SortFunc(found, func(a, b span) int {
		switch {
		case a.StartTime < b.StartTime:
			return -1
		case a.StartTime > b.StartTime:
			return 1
		}
		return 0
	})
	return found
}

func named(name string) func(span) bool { return func(s span) bool { return s.Name == name } }

func awsCall(service, operation string) func(span) bool {
	return func(s span) bool { return s.Namespace == "aws" && s.Name == service && s.AWS.Operation == operation }
}

// sagaSteps are the happy path's steps in the order the state machine runs
// them (functions/orders/saga.asl.json: Reserve, Charge, Confirm, Commit).
var sagaSteps = []string{"inventory-reserve", "payments-charge", "orders-mark-confirmed", "inventory-commit"}

// check returns what the order's trace lacks; none when it is whole.
func (j journey) check(orderID string) []string {
	var missing []string
	lack := func(format string, args ...any) { missing = append(missing, fmt.Sprintf(format, args...)) }
	annotated := func(s span) bool { return s.annotation("orderId") == orderID }

	creates := j.find(named("orders-create"))
	if len(creates) != 1 {
		lack("one orders-create span (found %d)", len(creates))
		return missing
	}
	create := creates[0]
	if !annotated(create) {
		lack("orders-create annotated orderId=%s", orderID)
	}
	users := j.find(func(s span) bool { return s.Name == "users" && s.Namespace == "remote" && j.under(s, create.ID) })
	if len(users) == 0 {
		lack("the users call (a remote subsegment \"users\") under orders-create")
	} else if gets := j.find(func(s span) bool { return s.Name == "users-get" && s.ParentID == users[0].ID }); len(gets) == 0 {
		lack("the users-get span, child of the users call %s", users[0].ID)
	}
	if len(j.find(func(s span) bool { return awsCall("DynamoDB", "TransactWriteItems")(s) && j.under(s, create.ID) })) == 0 {
		lack("orders-create's DynamoDB TransactWriteItems subsegment")
	}
	starts := j.find(func(s span) bool { return awsCall("SFN", "StartExecution")(s) && j.under(s, create.ID) })
	if len(starts) == 0 {
		lack("orders-create's SFN StartExecution subsegment")
	}
	var last float64
	for _, step := range sagaSteps {
		found := j.find(named(step))
		switch {
		case len(found) == 0:
			lack("the saga step %s", step)
			continue
		case !j.under(found[0], create.ID):
			// The execution input carries the trace header of the span that
			// started it: the StartExecution subsegment's, or orders-create's
			// own when the input is built before the call.
			lack("the saga step %s under orders-create (its parent is %s)", step, found[0].ParentID)
		case len(starts) > 0 && found[0].StartTime < starts[0].StartTime:
			lack("the saga step %s after StartExecution", step)
		case !annotated(found[0]):
			lack("the saga step %s annotated orderId=%s", step, orderID)
		case found[0].StartTime < last:
			lack("the saga step %s after the one before it", step)
		}
		last = found[0].StartTime
		if len(j.find(func(s span) bool { return s.Namespace == "aws" && s.Name == "DynamoDB" && j.under(s, found[0].ID) })) == 0 {
			lack("a DynamoDB subsegment under the saga step %s", step)
		}
	}
	// The order's events: each published by a relay's span in the event's
	// trace, with a PutEvents subsegment; each handled by the notifications
	// consumer in the same trace.
	for _, eventType := range []string{"shop.order.created.v1", "shop.order.confirmed.v1"} {
		isEvent := func(name string) func(span) bool {
			return func(s span) bool {
				return s.Name == name && s.annotation("eventType") == eventType && s.annotation("eventId") != "" && annotated(s)
			}
		}
		relays := j.find(isEvent("orders-relay"))
		if len(relays) == 0 {
			lack("the orders-relay span publishing %s, annotated eventType, eventId and orderId", eventType)
		} else if len(j.find(func(s span) bool { return awsCall("EventBridge", "PutEvents")(s) && s.ParentID == relays[0].ID })) == 0 {
			lack("the EventBridge PutEvents subsegment of the relay's %s span", eventType)
		}
		if len(j.find(isEvent("notifications-notify"))) == 0 {
			lack("the notifications-notify span handling %s, annotated eventType, eventId and orderId", eventType)
		}
	}
	return missing
}

func TestOrderJourneyIsOneTrace(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	path := tracesFile(t)
	s := newShopper(t)
	p := newProduct(t, 10)
	o := mustPlace(t, s, "tok_visa", line(p.ID, 1))
	awaitEnd(t, s, o.ID, "CONFIRMED", "")

	// A span is sent when it ends: the consumers' come last, after the
	// order is CONFIRMED and the events delivered.
	var j journey
	var missing []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		spans := readSpans(t, path)
		var traceIDs []string
		for _, sp := range spans {
			if sp.Name == "orders-create" && sp.annotation("orderId") == o.ID && !slices.Contains(traceIDs, sp.TraceID) {
				traceIDs = append(traceIDs, sp.TraceID)
			}
		}
		switch len(traceIDs) {
		case 0:
			missing = []string{fmt.Sprintf("an orders-create span annotated orderId=%s (%d documents in %s)", o.ID, len(spans), path)}
		case 1:
			j = newJourney(spans, traceIDs[0])
			missing = j.check(o.ID)
		default:
			t.Fatalf("order %s was placed once but its orders-create spans are in %d traces: %v", o.ID, len(traceIDs), traceIDs)
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		var have []string
		for _, sp := range j.spans {
			have = append(have, fmt.Sprintf("%s %s parent=%s %s%s orderId=%s eventType=%s", sp.ID, sp.Name, sp.ParentID, sp.Namespace, sp.AWS.Operation, sp.annotation("orderId"), sp.annotation("eventType")))
		}
		t.Fatalf("order %s: its trace lacks:\n  %s\nthe trace holds %d spans:\n  %s", o.ID, strings.Join(missing, "\n  "), len(j.spans), strings.Join(have, "\n  "))
	}

	// make trace ORDER=<id> prints them: the API call first, the users call
	// and its users-get inside it, the saga's steps in the order they ran,
	// the consumers; then the diagram.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./localstack/trace", "-order", o.ID, "-file", path)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./localstack/trace -order %s: %v\n%s", o.ID, err, out)
	}
	text, _, _ := strings.Cut(string(out), "```mermaid")
	lines := strings.Split(text, "\n")
	at := func(name string, from int) int {
		for i := from; i < len(lines); i++ {
			if f := strings.Fields(lines[i]); len(f) > 2 && f[2] == name {
				return i
			}
		}
		return -1
	}
	wantOrder := append([]string{"orders-create", "users", "users-get", "SFN"}, sagaSteps...)
	i, previous := 0, -1.0
	for _, name := range wantOrder {
		if i = at(name, i); i < 0 {
			t.Fatalf("make trace: no line for %s after the ones before it:\n%s", name, out)
		}
		offset, err := strconv.ParseFloat(strings.Fields(lines[i])[0], 64)
		if err != nil || offset < previous {
			t.Errorf("make trace: %s starts at %q, before the span printed above it (%v)", name, strings.Fields(lines[i])[0], previous)
		}
		previous = offset
	}
	for _, want := range []string{"notifications-notify", "AWS EventBridge PutEvents", "AWS SFN StartExecution", "AWS DynamoDB", "HTTP GET ", "eventType=shop.order.created.v1"} {
		if !strings.Contains(text, want) {
			t.Errorf("make trace's journey lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{"sequenceDiagram", "actor Client", "Client->>orders_create: POST /v1/orders", "SFN->>inventory_reserve", "participant notifications_notify as notifications-notify"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make trace's diagram lacks %q:\n%s", want, out)
		}
	}
}
