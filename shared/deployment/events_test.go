package deployment_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/deployment/deploymenttest"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/outbox"
)

// eventsTree is a stack with a publishing service and its relay, an ingest
// endpoint with one registered outside publisher, and a consumer of events
// of both, with a pattern of its own.
func eventsTree(t *testing.T) *manifest.Set {
	t.Helper()
	return deploymenttest.EventsSet(t, `{detail: {data: {quantity: [{numeric: [">", 0]}]}}}`,
		"shop.warehouse.stock.received.v1", "shop.order.created.v1", "shop.order.confirmed.v1")
}

var eventsParams = deployment.Params{Prefix: "acme", Region: "eu-west-1", Account: "123456789012"}

func TestEventBusAndArchive(t *testing.T) {
	d, err := deployment.Build(eventsTree(t), eventsParams)
	if err != nil {
		t.Fatal(err)
	}
	want := deployment.EventBus{
		Name:        "acme-events",
		ARN:         "arn:aws:events:eu-west-1:123456789012:event-bus/acme-events",
		Description: d.EventBus.Description,
		Archive: deployment.Archive{
			Name:          "acme-events",
			ARN:           "arn:aws:events:eu-west-1:123456789012:archive/acme-events",
			Description:   d.EventBus.Archive.Description,
			RetentionDays: 30,
		},
	}
	if d.EventBus == nil || *d.EventBus != want || want.Description == "" || want.Archive.Description == "" {
		t.Fatalf("bus = %+v, want %+v with descriptions", d.EventBus, want)
	}

	// Nothing publishes: no bus, and no function is told of one.
	plain, err := deployment.Build(&manifest.Set{Services: []*manifest.Service{{
		Name: "shop", Table: manifest.Table{PartitionKey: manifest.Key{Name: "pk", Type: "S"}},
		Functions: []*manifest.Function{{Name: "shop-charge", Service: "shop", Kind: manifest.KindStep, MemoryMB: 128, TimeoutSecs: 3}},
	}}}, eventsParams)
	if err != nil {
		t.Fatal(err)
	}
	if plain.EventBus != nil {
		t.Fatalf("a stack where nothing publishes has a bus: %+v", plain.EventBus)
	}
	text, err := plain.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(text, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["eventBus"]; ok {
		t.Fatal("the model's JSON has an eventBus key without a bus")
	}
}

func TestConsumerModel(t *testing.T) {
	d, err := deployment.Build(eventsTree(t), eventsParams)
	if err != nil {
		t.Fatal(err)
	}
	fn := d.Function("notes-notify")
	if fn.Relay != nil || fn.Consumer == nil {
		t.Fatalf("consumer = %+v, relay = %+v", fn.Consumer, fn.Relay)
	}
	ruleARN := "arn:aws:events:eu-west-1:123456789012:rule/acme-events/acme-notes-notify"
	queueARN := "arn:aws:sqs:eu-west-1:123456789012:acme-notes-notify"
	c := fn.Consumer
	// Sources deduplicated and sorted, types sorted, the manifest's own
	// field beside them, keys sorted at every level, ">" unescaped.
	wantPattern := `{"detail":{"data":{"quantity":[{"numeric":[">",0]}]}},"detail-type":["shop.order.confirmed.v1","shop.order.created.v1","shop.warehouse.stock.received.v1"],"source":["com.example.warehouse","shop.orders"]}`
	if c.Rule.Name != "acme-notes-notify" || c.Rule.ARN != ruleARN || c.Rule.TargetID != "queue" || c.Rule.Description == "" || c.Rule.EventPattern != wantPattern {
		t.Fatalf("rule = %+v\nwant pattern %s", c.Rule, wantPattern)
	}
	wantQueue := deployment.Queue{
		Name: "acme-notes-notify", ARN: queueARN,
		VisibilityTimeoutSecs: 60, // 6 x the function's 10 s
		MessageRetentionSecs:  4 * 24 * 3600,
		MaximumMessageSize:    262144,
		MaxReceiveCount:       5,
		SSE:                   true,
	}
	q := c.Queue
	q.Policy = nil
	if q != wantQueue {
		t.Fatalf("queue = %+v, want %+v", q, wantQueue)
	}
	policy, err := json.Marshal(c.Queue.Policy)
	if err != nil {
		t.Fatal(err)
	}
	wantPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"FromOwnRule","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":["sqs:SendMessage"],"Resource":["` + queueARN + `"],"Condition":{"ArnEquals":{"aws:SourceArn":["` + ruleARN + `"]}}}]}`
	if string(policy) != wantPolicy {
		t.Fatalf("queue policy %s\nwant %s", policy, wantPolicy)
	}
	wantDLQ := deployment.Queue{
		Name: "acme-notes-notify-dlq", ARN: queueARN + "-dlq",
		VisibilityTimeoutSecs: 30, MessageRetentionSecs: 14 * 24 * 3600, MaximumMessageSize: 262144, SSE: true,
	}
	if c.DeadLetterQueue != wantDLQ {
		t.Fatalf("dead-letter queue = %+v, want %+v", c.DeadLetterQueue, wantDLQ)
	}
	if m := c.Mapping; m.BatchSize != 10 || m.MaximumConcurrency != 5 || !slices.Equal(m.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) {
		t.Fatalf("mapping = %+v", m)
	}
	if fn.Bindings[manifest.EnvQueueURL] != deployment.BindingQueueURL || len(fn.Bindings) != 1 {
		t.Fatalf("bindings = %v, want only the queue's URL", fn.Bindings)
	}
	if _, ok := fn.Environment[manifest.EnvEventBus]; ok {
		t.Fatal("a consumer that does not publish is told the bus")
	}
	st := deployment.BySid(fn.Role.Policy)
	if got := sids(fn.Role.Policy); !slices.Equal(got, []string{"WriteOwnLogs", "WriteTraces", "OwnTable", "ConsumeOwnQueue"}) {
		t.Fatalf("consumer statements %v", got)
	}
	consume := st["ConsumeOwnQueue"]
	if !slices.Equal(consume.Action, []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}) ||
		!slices.Equal(consume.Resource, []string{queueARN}) {
		t.Fatalf("ConsumeOwnQueue = %+v", consume)
	}
}

func TestRelayModel(t *testing.T) {
	d, err := deployment.Build(eventsTree(t), eventsParams)
	if err != nil {
		t.Fatal(err)
	}
	fn := d.Function("orders-relay")
	if fn.Consumer != nil || fn.Relay == nil {
		t.Fatalf("consumer = %+v, relay = %+v", fn.Consumer, fn.Relay)
	}
	dlqARN := "arn:aws:sqs:eu-west-1:123456789012:acme-orders-relay-dlq"
	want := deployment.Relay{
		Table:                "acme-orders",
		FilterPattern:        outbox.FilterPattern,
		BatchSize:            10,
		StartingPosition:     "TRIM_HORIZON",
		BisectOnError:        true,
		MaximumRetryAttempts: 10,
		MaximumRecordAgeSecs: 86400,
		DeadLetterQueue: deployment.Queue{
			Name: "acme-orders-relay-dlq", ARN: dlqARN,
			VisibilityTimeoutSecs: 30, MessageRetentionSecs: 14 * 24 * 3600, MaximumMessageSize: 262144, SSE: true,
		},
	}
	if *fn.Relay != want {
		t.Fatalf("relay = %+v, want %+v", *fn.Relay, want)
	}
	if tb := d.Tables[slices.IndexFunc(d.Tables, func(tb deployment.Table) bool { return tb.Name == want.Table })]; tb.Stream != "NEW_IMAGE" {
		t.Fatalf("the relay's table has stream %q", tb.Stream)
	}
	if fn.Environment[manifest.EnvEventBus] != "acme-events" {
		t.Fatalf("relay environment %v: no bus", fn.Environment)
	}
	if fn.Bindings[manifest.EnvDeadLetterQueueURL] != deployment.BindingDeadLetterQueueURL || len(fn.Bindings) != 1 {
		t.Fatalf("bindings = %v, want only the dead-letter queue's URL", fn.Bindings)
	}
	if got := sids(fn.Role.Policy); !slices.Equal(got, []string{"WriteOwnLogs", "WriteTraces", "PublishEvents", "ReadOwnTableStream", "SendToOwnDeadLetterQueue"}) {
		t.Fatalf("relay statements %v", got)
	}
	st := deployment.BySid(fn.Role.Policy)
	if s := st["PublishEvents"]; !slices.Equal(s.Action, []string{"events:PutEvents"}) || !slices.Equal(s.Resource, []string{"arn:aws:events:eu-west-1:123456789012:event-bus/acme-events"}) {
		t.Fatalf("PublishEvents = %+v", s)
	}
	if s := st["ReadOwnTableStream"]; !slices.Equal(s.Action, []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}) ||
		!slices.Equal(s.Resource, []string{"arn:aws:dynamodb:eu-west-1:123456789012:table/acme-orders/stream/*"}) {
		t.Fatalf("ReadOwnTableStream = %+v", s)
	}
	if s := st["SendToOwnDeadLetterQueue"]; !slices.Equal(s.Action, []string{"sqs:SendMessage"}) || !slices.Equal(s.Resource, []string{dlqARN}) {
		t.Fatalf("SendToOwnDeadLetterQueue = %+v", s)
	}
}

func TestIngestModel(t *testing.T) {
	d, err := deployment.Build(eventsTree(t), eventsParams)
	if err != nil {
		t.Fatal(err)
	}
	fn := d.Function("platform-ingest")
	if fn.Consumer != nil || fn.Relay != nil || fn.Bindings != nil {
		t.Fatalf("ingest = %+v", fn)
	}
	if got, want := fn.Environment[manifest.EnvIngestPublishers], `[{"subject":"warehouse","source":"com.example.warehouse","types":["shop.warehouse.stock.received.v1"]}]`; got != want {
		t.Fatalf("%s = %s, want %s", manifest.EnvIngestPublishers, got, want)
	}
	if fn.Environment[manifest.EnvEventBus] != "acme-events" {
		t.Fatalf("ingest environment %v: no bus", fn.Environment)
	}
	if got := sids(fn.Role.Policy); !slices.Equal(got, []string{"WriteOwnLogs", "WriteTraces", "PublishEvents"}) {
		t.Fatalf("ingest statements %v", got)
	}
	if _, ok := d.Function("orders-create").Environment[manifest.EnvEventBus]; ok {
		t.Fatal("a function without publishEvents is told the bus")
	}
}

// Terraform reads the model with placeholders: the event resources' names
// and ARNs must come out of the substitution like every other's
// (TestTemplateWithValuesSubstitutedIsTheModel covers the repository's
// manifests, which may not yet publish).
func TestEventTemplateUsesPlaceholders(t *testing.T) {
	d, err := deployment.Template(eventsTree(t))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Function("notes-notify").Consumer
	if d.EventBus.ARN != "arn:{partition}:events:{region}:{account}:event-bus/{prefix}-events" ||
		c.Rule.ARN != "arn:{partition}:events:{region}:{account}:rule/{prefix}-events/{prefix}-notes-notify" ||
		c.Queue.ARN != "arn:{partition}:sqs:{region}:{account}:{prefix}-notes-notify" {
		t.Fatalf("bus %s, rule %s, queue %s", d.EventBus.ARN, c.Rule.ARN, c.Queue.ARN)
	}
}

func sids(p deployment.Policy) []string {
	var out []string
	for _, s := range p.Statement {
		out = append(out, s.Sid)
	}
	return out
}
