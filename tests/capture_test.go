package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/tests/internal/buscapture"
)

// The capture: for the whole run, a rule of its own on the stack's bus
// sends every event to a queue of its own, which a goroutine drains into
// memory. Tests wait on it for the events they cause (awaitEvents), and
// TestMain checks every captured event against the catalog at the end: the
// events the code really emitted, not the ones a unit test built. Its rule
// and queue are named e2e-capture-*, outside the stack's prefix, so the
// deployer's prune leaves them alone; TestMain removes them.

// delivery is one event as the bus delivered it to the capture queue.
type delivery struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	// ReplayName is set on an event an archive replay sent again
	// (TestReplayChangesNothing): awaitEvents counts first deliveries only.
	ReplayName string     `json:"replay-name"`
	Event      cloudEvent `json:"-"`
	At         time.Time  `json:"-"`
}

// cloudEvent is the part of a captured CloudEvent tests look at.
type cloudEvent struct {
	ID            string          `json:"id"`
	Source        string          `json:"source"`
	Type          string          `json:"type"`
	Subject       string          `json:"subject"`
	Time          time.Time       `json:"time"`
	CorrelationID string          `json:"correlationid"`
	Data          json.RawMessage `json:"data"`
}

type eventCapture struct {
	*buscapture.Capture

	mu        sync.Mutex
	delivered []delivery
}

// capture is the run's capture; nil when the run drives no Lambda stack.
var capture *eventCapture

// startCapture puts the capture on the stack's bus. The stack must be
// deployed (the bus exists).
func startCapture(ctx context.Context) (*eventCapture, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	c := &eventCapture{}
	c.Capture, err = buscapture.Start(ctx, sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), naming.EventBus(prefix()),
		fmt.Sprintf("e2e-capture-%d", os.Getpid()), "end-to-end tests: every event of the run, checked against the catalog", c.record)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// record keeps a delivery.
func (c *eventCapture) record(body string) error {
	var d delivery
	err := json.Unmarshal([]byte(body), &d)
	if err == nil {
		err = json.Unmarshal(d.Detail, &d.Event)
	}
	if err != nil {
		return err
	}
	d.At = time.Now()
	c.mu.Lock()
	c.delivered = append(c.delivered, d)
	c.mu.Unlock()
	return nil
}

// matching returns the deliveries match accepts, and how many distinct
// event ids they carry.
func (c *eventCapture) matching(match func(cloudEvent) bool) ([]delivery, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []delivery
	ids := map[string]bool{}
	for _, d := range c.delivered {
		if d.ReplayName == "" && match(d.Event) {
			out = append(out, d)
			ids[d.Event.ID] = true
		}
	}
	return out, len(ids)
}

// awaitEvents waits until the bus has carried want distinct events that
// match, and returns every delivery of them so far.
func awaitEvents(t *testing.T, what string, want int, match func(cloudEvent) bool) []delivery {
	t.Helper()
	if capture == nil {
		t.Fatal("no event capture: TestMain could not put it on the bus")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, n := capture.matching(match)
		if n >= want {
			expectMetric("the bus carried events "+what, "", metrics.EventsPublished)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 60 s the bus carried %d of the %d events %s", n, want, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// bySubject matches events of a type about one thing.
func bySubject(eventType, subject string) func(cloudEvent) bool {
	return func(e cloudEvent) bool { return e.Type == eventType && e.Subject == subject }
}

// finish stops the capture, removes its rule and queue, and checks every
// event the run carried against the catalog, printing a report; with
// SHOP_EVENTS_REPORT set it also writes the report to that file (make test
// prints it from there, as the least-privilege one).
func (c *eventCapture) finish() bool {
	var report strings.Builder
	ok := c.check(&report)
	fmt.Print(report.String())
	if path := os.Getenv("SHOP_EVENTS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			fmt.Println("events: write report:", err)
			return false
		}
	}
	return ok
}

// check removes the capture and writes its verdict to report: the summary
// line first, then every event that broke the catalog.
func (c *eventCapture) check(report *strings.Builder) bool {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	c.Close(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	var problems []string
	for _, f := range c.Failures() {
		problems = append(problems, "events: "+f)
	}
	for _, f := range c.ReceiveErrors() {
		problems = append(problems, "events: receive: "+f)
	}
	ok := len(problems) == 0
	perType := map[string]int{}
	replayed := 0
	for _, d := range c.delivered {
		e := d.Event
		perType[e.Type]++
		if d.ReplayName != "" {
			replayed++
		}
		if d.Source != e.Source || d.DetailType != e.Type {
			problems = append(problems, fmt.Sprintf("events: %s: EventBridge source %q / detail-type %q, but the CloudEvent says %q / %q", e.ID, d.Source, d.DetailType, e.Source, e.Type))
			ok = false
		}
		if err := explain.ValidateEvent(d.Detail); err != nil && !strings.HasPrefix(e.ID, invalidOnPurpose) {
			problems = append(problems, fmt.Sprintf("events: %s from %s: %v", e.ID, e.Source, err))
			ok = false
		}
	}
	var parts []string
	for _, typ := range slices.Sorted(maps.Keys(perType)) {
		parts = append(parts, fmt.Sprintf("%s %d", typ, perType[typ]))
	}
	verdict := "all match their schemas"
	if !ok {
		verdict = fmt.Sprintf("%d problems", len(problems))
	}
	fmt.Fprintf(report, "events: the bus carried %d events during the run (%d of them again, by a replay), each checked against its schema in events/: %s\n",
		len(c.delivered), replayed, verdict)
	fmt.Fprintf(report, "  by type: %s\n", strings.Join(parts, ", "))
	for _, p := range problems {
		fmt.Fprintln(report, "  "+p)
	}
	return ok
}

// invalidOnPurpose starts the id of every event a test puts on the bus to
// see it refused: the capture's check leaves those out.
const invalidOnPurpose = "e2e-invalid-"
