package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	etypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	qtypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// eventsTestPrefix keeps the events test's stack apart from the other live
// tests' and a developer's; fixed, so repeated runs reuse what the last
// one left.
const eventsTestPrefix = "shopev"

// The events fixture: a publishing service (evfix) whose relay publishes
// the events of its table's outbox items, and an ingest endpoint with one
// registered outside publisher; and a consumer (evsub-got) of events of
// both, which stores what it gets, and fails an event whose data says
// "fail" the first time it receives it.
const (
	evFixService = `service: evfix
description: The publishing service of the deployer's events test.
table: {partitionKey: {name: pk, type: S}, stream: NEW_IMAGE}
publishes: [shop.evfix.made.v1]
`
	evFixServiceSilent = `service: evfix
description: The publishing service of the deployer's events test.
table: {partitionKey: {name: pk, type: S}}
`
	evFixRelay = `name: evfix-relay
description: Publishes the outbox's events.
kind: stream
memory: 128
timeout: 10
permissions: {publishEvents: true}
`
	evFixIngest = `name: evfix-ingest
description: Takes events of outside systems.
kind: http
http: {method: POST, path: /v1/evfix/events, auth: none}
memory: 128
timeout: 5
permissions: {publishEvents: true}
ingest:
  - {subject: fixer, source: com.example.fix, types: [shop.evfix.received.v1]}
`
	evFixIngestSilent = `name: evfix-ingest
description: Takes events of outside systems.
kind: http
http: {method: POST, path: /v1/evfix/events, auth: none}
memory: 128
timeout: 5
`
	evSubService = `service: evsub
description: The consuming service of the deployer's events test.
table: {partitionKey: {name: pk, type: S}}
`
	// A timeout of 1 s makes the queue's visibility timeout 6 s: a failed
	// message comes back that soon.
	evSubGot = `name: evsub-got
description: Stores the events it gets.
kind: event
events:
  types: [shop.evfix.made.v1, shop.evfix.received.v1]
memory: 128
timeout: 1
permissions: {dynamodb: [PutItem]}
`
	evSubOther = `name: evsub-other
description: Stays, so the service keeps a function.
kind: step
memory: 128
timeout: 5
`
	evRelayMain = `package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// main publishes the events of each outbox item to the bus.
func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	bus := os.Getenv("SHOP_EVENT_BUS")
	eb := eventbridge.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context, in events.DynamoDBEvent) error {
		for _, r := range in.Records {
			var evs []json.RawMessage
			if err := json.Unmarshal([]byte(r.Change.NewImage["events"].String()), &evs); err != nil {
				return err
			}
			var entries []types.PutEventsRequestEntry
			for _, e := range evs {
				var ce struct{ Source, Type string }
				if err := json.Unmarshal(e, &ce); err != nil {
					return err
				}
				entries = append(entries, types.PutEventsRequestEntry{EventBusName: &bus, Source: &ce.Source, DetailType: &ce.Type, Detail: aws.String(string(e))})
			}
			out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			if err != nil {
				return err
			}
			if out.FailedEntryCount > 0 {
				return fmt.Errorf("%d events failed", out.FailedEntryCount)
			}
		}
		return nil
	})
}
`
	evConsumerMain = `package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// main stores each event it gets as GOT#<id>, with how often its message
// was received; an event whose data says fail is failed (as a batch item)
// the first time.
func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table, queue := os.Getenv("SHOP_TABLE"), os.Getenv("SHOP_QUEUE_URL")
	lambda.Start(func(ctx context.Context, in events.SQSEvent) (events.SQSEventResponse, error) {
		// Never a nil list: MiniStack 1.5.33 fails on "batchItemFailures":
		// null and then deletes no message of the batch.
		out := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, m := range in.Records {
			var msg struct {
				Detail struct {
					ID   string ` + "`json:\"id\"`" + `
					Data struct {
						Fail bool ` + "`json:\"fail\"`" + `
					} ` + "`json:\"data\"`" + `
				} ` + "`json:\"detail\"`" + `
			}
			if err := json.Unmarshal([]byte(m.Body), &msg); err != nil {
				return out, err
			}
			count := m.Attributes["ApproximateReceiveCount"]
			if msg.Detail.Data.Fail && count == "1" {
				out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
				"pk":           &types.AttributeValueMemberS{Value: "GOT#" + msg.Detail.ID},
				"receiveCount": &types.AttributeValueMemberS{Value: count},
				"queue":        &types.AttributeValueMemberS{Value: queue},
			}})
			if err != nil {
				return out, err
			}
		}
		return out, nil
	})
}
`
)

// The variants of the events fixture.
const (
	evFull       = iota // publisher, ingest, consumer
	evNoConsumer        // the consumer's manifest removed
	evNoEvents          // nothing publishes, ingests or consumes
)

// eventsFixture writes the fixture tree (variant: evFull, ...) under the
// repository's build/ (git-ignored), inside the module so the functions
// build against its go.mod.
func eventsFixture(t *testing.T, variant int) string {
	t.Helper()
	root := filepath.Join("..", "..", "build", "deploy-events-fixture")
	writeEventsFixture(t, root, variant)
	return root
}

// eventsModel is the model of the fixture's variant, deployed as shop.
func eventsModel(t *testing.T, variant int) *deployment.Deployment {
	t.Helper()
	root := t.TempDir()
	writeEventsFixture(t, root, variant)
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	d, err := deployment.Build(set, deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeEventsFixture(t *testing.T, root string, variant int) {
	t.Helper()
	for _, dir := range []string{"functions", "events"} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"events/shop.evfix.made.v1.schema.json":     `{}`,
		"events/shop.evfix.received.v1.schema.json": `{}`,
		"functions/evfix/service.yaml":              evFixService,
		"functions/evfix/relay/function.yaml":       evFixRelay,
		"functions/evfix/relay/main.go":             evRelayMain,
		"functions/evfix/ingest/function.yaml":      evFixIngest,
		"functions/evfix/ingest/main.go":            sfnFixtureMain,
		"functions/evsub/service.yaml":              evSubService,
		"functions/evsub/got/function.yaml":         evSubGot,
		"functions/evsub/got/main.go":               evConsumerMain,
		"functions/evsub/other/function.yaml":       evSubOther,
		"functions/evsub/other/main.go":             sfnFixtureMain,
	}
	if variant != evFull {
		delete(files, "functions/evsub/got/function.yaml")
		delete(files, "functions/evsub/got/main.go")
	}
	if variant == evNoEvents {
		files["functions/evfix/service.yaml"] = evFixServiceSilent
		files["functions/evfix/ingest/function.yaml"] = evFixIngestSilent
		delete(files, "functions/evfix/relay/function.yaml")
		delete(files, "functions/evfix/relay/main.go")
	}
	for name, body := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLiveEventsDeployRedeployPrune deploys the events fixture, the first
// time losing the first response to every kind of call (over a publisher
// table that exists without its stream, which must be switched on); checks
// the bus, archive, rule, queues and mappings against the model and that
// events travel: an outbox item's events through the filtered stream
// mapping, the relay, the bus, the rule and the queue mapping to the
// consumer, one of them failed once and redelivered alone; an outside
// system's event put on the bus straight; and neither a non-outbox item's
// event nor one from a source the rule does not name. Deploys again, which
// must report nothing but unchanged; then over drift (a queue's and a
// mapping's settings, a rule's pattern and extra target, the archive's
// retention, the bus's description, a twin mapping), which must bring each
// back; then without the consumer, which must delete its rule, queues,
// mapping and function, and a stale rule of the stack, and leave a test's
// capture rule on the bus alone; then with no events at all, which must
// delete the relay's mapping and dead-letter queue and keep the bus while
// the capture rule is on it, and delete bus and archive once it is gone.
//
//	SHOP_DEPLOY_TEST_ENDPOINT=http://127.0.0.1:4566 go test ./localstack/deploy -run LiveEvents
func TestLiveEventsDeployRedeployPrune(t *testing.T) {
	endpoint := os.Getenv("SHOP_DEPLOY_TEST_ENDPOINT")
	if endpoint == "" {
		t.Skip("set SHOP_DEPLOY_TEST_ENDPOINT (e.g. http://127.0.0.1:4566) to deploy to a running emulator")
	}
	ctx := t.Context()
	c, err := newClients(ctx, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	account := liveAccount(t, c)
	root := eventsFixture(t, evFull)
	modelOf := func(root string) *deployment.Deployment {
		t.Helper()
		set, err := manifest.Load(root)
		if err != nil {
			t.Fatal(err)
		}
		m, err := deployment.Build(set, deployment.Params{Prefix: eventsTestPrefix, Region: c.region, Account: account})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	model := modelOf(root)
	args := func(root string) []string {
		return []string{"-root", root, "-endpoint", endpoint, "-prefix", eventsTestPrefix,
			"-out", filepath.Join("build", "local"), "-url-file", filepath.Join(t.TempDir(), "api-url")}
	}
	deployFixture := func(what, root string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, args(root), &out); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, &out)
		}
		return out.String()
	}

	// The publisher's table without its stream: the deploy must add it.
	publisher := naming.Table(eventsTestPrefix, "evfix")
	withoutStream(t, c, model, publisher)

	opts, err := parseFlags(args(root), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	lossy := newLoseFirst()
	opts.httpClient = lossy
	var first bytes.Buffer
	if err := deploy(ctx, opts, &first); err != nil {
		t.Fatalf("first deploy, responses lost: %v\n%s", err, &first)
	}
	if lossy.lostCount() < 10 {
		t.Fatalf("only %d responses were lost: the fault did not happen", lossy.lostCount())
	}
	lines := strings.Split(strings.TrimSpace(first.String()), "\n")
	baseURL := lines[len(lines)-1]
	checkEventsAreTheModel(t, c, model)
	checkFunctionsAreTheModel(t, c, model, baseURL)
	checkEventsTravel(t, c, model)

	second := deployFixture("second deploy", root)
	lines = strings.Split(strings.TrimSpace(second), "\n")
	for _, l := range lines[:len(lines)-1] {
		if reportsChange(l) {
			t.Errorf("second deploy changed something: %q", l)
		}
	}
	for _, kind := range []string{"event bus", "archive", "queue", "rule", "mapping"} {
		if !strings.Contains(second, "\n"+fmt.Sprintf("%-12s", kind)) {
			t.Errorf("second deploy reported no %s:\n%s", kind, second)
		}
	}

	drifted := eventsDrift(t, c, model)
	converged := deployFixture("deploy over drift", root)
	for _, want := range drifted {
		if !strings.Contains(converged, want) {
			t.Errorf("deploy over drift did not report %q:\n%s", want, converged)
		}
	}
	checkEventsAreTheModel(t, c, model)

	// A test's capture rule (not of the stack's name) and a stale rule of
	// the stack's name.
	bus := model.EventBus.Name
	capture, stale := "e2e-capture-deploy-test", eventsTestPrefix+"-evsub-gone"
	for _, rule := range []string{capture, stale} {
		if _, err := c.events.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: &bus, EventPattern: aws.String(`{"source":["com.example.fix"]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: &bus, Targets: []etypes.Target{{Id: aws.String("capture"), Arn: &model.Function("evsub-got").Consumer.DeadLetterQueue.ARN}}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &capture, EventBusName: &bus, Ids: []string{"capture"}})
		c.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &capture, EventBusName: &bus})
	})

	got := model.Function("evsub-got")
	pruned := deployFixture("deploy without the consumer", eventsFixture(t, evNoConsumer))
	for _, want := range []string{
		progressLine("rule", got.Consumer.Rule.Name, statusDeleted),
		progressLine("rule", stale, statusDeleted),
		progressLine("mapping", got.FunctionName, statusDeleted),
		progressLine("queue", got.Consumer.Queue.Name, statusDeleted),
		progressLine("queue", got.Consumer.DeadLetterQueue.Name, statusDeleted),
		progressLine("function", got.FunctionName, statusDeleted),
		progressLine("role", got.Role.Name, statusDeleted),
	} {
		if !strings.Contains(pruned, want) {
			t.Errorf("pruning the consumer did not report %q:\n%s", want, pruned)
		}
	}
	checkQueueGone(t, c, got.Consumer.Queue.Name, got.Consumer.DeadLetterQueue.Name)
	checkRules(t, c, bus, []string{capture})
	if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &got.Role.Name}); !awserr.HasCode(err, "NoSuchEntity") {
		t.Errorf("role %s of the pruned consumer: %v, want it deleted", got.Role.Name, err)
	}
	if m := liveMappings(t, c, got.FunctionName); len(m) > 0 {
		t.Errorf("mappings of the pruned consumer: %v", m)
	}

	relay := model.Function("evfix-relay")
	silent := eventsFixture(t, evNoEvents)
	kept := deployFixture("deploy without events, a capture rule on the bus", silent)
	for _, want := range []string{
		progressLine("mapping", relay.FunctionName, statusDeleted),
		progressLine("queue", relay.Relay.DeadLetterQueue.Name, statusDeleted),
		progressLine("function", relay.FunctionName, statusDeleted),
		progressLine("event bus", bus, statusBusKept),
	} {
		if !strings.Contains(kept, want) {
			t.Errorf("deploy without events did not report %q:\n%s", want, kept)
		}
	}
	checkQueueGone(t, c, relay.Relay.DeadLetterQueue.Name)
	checkRules(t, c, bus, []string{capture})
	ingest := modelOf(silent).Function("evfix-ingest")
	if cfg, err := c.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &ingest.FunctionName}); err != nil {
		t.Error(err)
	} else if env := cfg.Environment.Variables; env[manifest.EnvEventBus] != "" || env[manifest.EnvIngestPublishers] != "" {
		t.Errorf("%s still names the bus or its publishers: %v", ingest.FunctionName, env)
	}

	if _, err := c.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &capture, EventBusName: &bus, Ids: []string{"capture"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &capture, EventBusName: &bus}); err != nil {
		t.Fatal(err)
	}
	gone := deployFixture("deploy without events", silent)
	for _, want := range []string{progressLine("archive", bus, statusDeleted), progressLine("event bus", bus, statusDeleted)} {
		if !strings.Contains(gone, want) {
			t.Errorf("deploy without events did not report %q:\n%s", want, gone)
		}
	}
	if _, err := c.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus}); !awserr.HasCode(err, "ResourceNotFoundException") {
		t.Errorf("bus %s after pruning: %v, want it deleted", bus, err)
	}
	if _, err := c.events.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &bus}); !awserr.HasCode(err, "ResourceNotFoundException") {
		t.Errorf("archive %s after pruning: %v, want it deleted", bus, err)
	}
	again := deployFixture("deploy without events, again", silent)
	lines = strings.Split(strings.TrimSpace(again), "\n")
	for _, l := range lines[:len(lines)-1] {
		if reportsChange(l, statusTableKept) {
			t.Errorf("a deploy after pruning changed something: %q", l)
		}
	}
}

// withoutStream makes the table name exist without a stream (recreating
// it if it has one), as a publisher's table did before its service
// published.
func withoutStream(t *testing.T, c clients, model *deployment.Deployment, name string) {
	t.Helper()
	ctx := t.Context()
	d := &deployer{clients: c, model: model, p: newProgress(io.Discard)}
	got, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
	case err != nil:
		t.Fatal(err)
	case got.Table.StreamSpecification == nil || !aws.ToBool(got.Table.StreamSpecification.StreamEnabled):
		return
	default:
		if _, err := c.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name}); err != nil {
			t.Fatal(err)
		}
		err := poll(ctx, "table "+name+" deleted", tableWait, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
			_, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
			return awserr.HasCode(err, "ResourceNotFoundException"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tbl := range model.Tables {
		if tbl.Name == name {
			tbl.Stream = ""
			if err := d.ensureTable(ctx, tbl); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("the model has no table %s", name)
}

// checkEventsAreTheModel reads back the bus, its archive, each consumer's
// rule with its targets, every queue's attributes and each function's
// event source mappings, and compares them with the model.
func checkEventsAreTheModel(t *testing.T, c clients, model *deployment.Deployment) {
	t.Helper()
	ctx := t.Context()
	d := &deployer{clients: c, model: model, p: newProgress(io.Discard)}
	bus := model.EventBus
	b, err := c.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus.Name})
	if err != nil || aws.ToString(b.Arn) != bus.ARN || aws.ToString(b.Description) != bus.Description {
		t.Errorf("bus %s: %+v (%v), want the model's %+v", bus.Name, b, err, bus)
	}
	a, err := c.events.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &bus.Archive.Name})
	if err != nil || aws.ToString(a.EventSourceArn) != bus.ARN || aws.ToString(a.Description) != bus.Archive.Description ||
		int(aws.ToInt32(a.RetentionDays)) != bus.Archive.RetentionDays || aws.ToString(a.EventPattern) != "" {
		t.Errorf("archive %s: %+v (%v), want every event of %s kept %d days", bus.Archive.Name, a, err, bus.ARN, bus.Archive.RetentionDays)
	}
	for _, q := range modelQueues(model) {
		url, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.Name})
		if err != nil {
			t.Errorf("queue %s: %v", q.Name, err)
			continue
		}
		attrs, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []qtypes.QueueAttributeName{qtypes.QueueAttributeNameAll}})
		if err != nil {
			t.Errorf("queue %s: %v", q.Name, err)
			continue
		}
		if diff := queueDiff(queueAttributes(q.Queue, q.deadLetter), attrs.Attributes); len(diff) > 0 || attrs.Attributes[attrQueueARN] != q.ARN {
			t.Errorf("queue %s differs from the model in %v: %v", q.Name, diff, attrs.Attributes)
		}
	}
	for i := range model.Functions {
		fn := &model.Functions[i]
		mappings := liveMappings(t, c, fn.FunctionName)
		var want *mappingConfig
		switch {
		case fn.Consumer != nil:
			m := queueMapping(fn.Consumer)
			want = &m
			r := fn.Consumer.Rule
			got, err := c.events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &r.Name, EventBusName: &bus.Name})
			if err != nil || aws.ToString(got.Arn) != r.ARN || !sameJSON(aws.ToString(got.EventPattern), r.EventPattern) ||
				aws.ToString(got.Description) != r.Description || got.State != etypes.RuleStateEnabled {
				t.Errorf("rule %s: %+v (%v), want the model's %+v", r.Name, got, err, r)
			}
			targets, err := d.ruleTargets(ctx, bus.Name, r.Name)
			if err != nil || len(targets) != 1 || aws.ToString(targets[0].Id) != r.TargetID || !sameTarget(targets[0], fn.Consumer.Queue.ARN) {
				t.Errorf("rule %s: targets %s (%v), want exactly %s -> %s", r.Name, mustJSON(targets), err, r.TargetID, fn.Consumer.Queue.ARN)
			}
		case fn.Relay != nil:
			stream, err := d.tableStream(ctx, fn.Relay.Table)
			if err != nil {
				t.Error(err)
				continue
			}
			m := streamMapping(fn.Relay, stream)
			want = &m
		}
		if want == nil {
			if len(mappings) > 0 {
				t.Errorf("function %s: mappings %s, want none", fn.FunctionName, mustJSON(mappings))
			}
			continue
		}
		if len(mappings) != 1 {
			t.Errorf("function %s: %d mappings, want exactly one: %s", fn.FunctionName, len(mappings), mustJSON(mappings))
			continue
		}
		if diff, _ := mappingDiff(*want, haveMapping(mappings[0])); len(diff) > 0 || aws.ToString(mappings[0].State) != "Enabled" {
			t.Errorf("function %s: mapping differs from the model in %v (state %s): %s", fn.FunctionName, diff, aws.ToString(mappings[0].State), mustJSON(mappings[0]))
		}
	}
}

// liveMappings lists the mappings of the function name.
func liveMappings(t *testing.T, c clients, name string) []ltypes.EventSourceMappingConfiguration {
	t.Helper()
	m, err := (&deployer{clients: c}).functionMappings(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkEventsTravel writes an outbox item with two events (one failed
// once by the consumer) and a non-outbox item with a third; puts an
// outside system's event on the bus, and one from a source the rule does
// not name; and waits for the consumer to have stored exactly the outbox's
// two and the outside system's.
func checkEventsTravel(t *testing.T, c clients, model *deployment.Deployment) {
	t.Helper()
	ctx := t.Context()
	run := strings.ReplaceAll(time.Now().UTC().Format("20060102T150405.000000000"), ".", "-")
	id := func(what string) string { return run + "-" + what }
	ce := func(what, source, typ string, fail bool) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":%q,"type":%q,"subject":"x","data":{"fail":%v}}`, id(what), source, typ, fail)
	}
	made := "shop.evfix.made.v1"
	publisher := naming.Table(eventsTestPrefix, "evfix")
	for pk, events := range map[string]string{
		// Not an outbox item: the filter keeps it from the relay.
		"OTHER#" + id("other"):   "[" + ce("other", "shop.evfix", made, false) + "]",
		"OUTBOX#" + id("failed"): "[" + ce("failed", "shop.evfix", made, true) + "," + ce("ok", "shop.evfix", made, false) + "]",
	} {
		_, err := c.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &publisher, Item: map[string]dtypes.AttributeValue{
			"pk": &dtypes.AttributeValueMemberS{Value: pk}, "events": &dtypes.AttributeValueMemberS{Value: events},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	bus := model.EventBus.Name
	var entries []etypes.PutEventsRequestEntry
	for _, e := range [][3]string{{"outside", "com.example.fix", "shop.evfix.received.v1"}, {"foreign", "com.example.evil", made}} {
		entries = append(entries, etypes.PutEventsRequestEntry{EventBusName: &bus, Source: aws.String(e[1]), DetailType: aws.String(e[2]), Detail: aws.String(ce(e[0], e[1], e[2], false))})
	}
	if out, err := c.events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries}); err != nil || out.FailedEntryCount > 0 {
		t.Fatalf("put events: %v, %d failed", err, out.FailedEntryCount)
	}

	consumer := model.Function("evsub-got")
	table := naming.Table(eventsTestPrefix, "evsub")
	received := func(what string) (map[string]dtypes.AttributeValue, error) {
		out, err := c.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: "GOT#" + id(what)}}})
		if err != nil {
			return nil, err
		}
		return out.Item, nil
	}
	err := poll(ctx, "the consumer's events", 90*time.Second, 500*time.Millisecond, func(context.Context) (bool, error) {
		for _, what := range []string{"failed", "ok", "outside"} {
			if item, err := received(what); err != nil || item == nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func(what string) string {
		item, err := received(what)
		if err != nil || item == nil {
			return fmt.Sprintf("not received (%v)", err)
		}
		return item["receiveCount"].(*dtypes.AttributeValueMemberS).Value
	}
	// The failed event came back alone: its batch's other event was not
	// redelivered (ReportBatchItemFailures).
	if got := map[string]string{"failed": count("failed"), "ok": count("ok"), "outside": count("outside")}; got["failed"] != "2" || got["ok"] != "1" || got["outside"] != "1" {
		t.Errorf("receive counts %v, want the failed event received twice and the others once", got)
	}
	item, _ := received("ok")
	url, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &consumer.Consumer.Queue.Name})
	if err != nil || item["queue"].(*dtypes.AttributeValueMemberS).Value != aws.ToString(url.QueueUrl) {
		t.Errorf("the consumer's %s is %v, want its queue's URL (%v)", manifest.EnvQueueURL, item["queue"], err)
	}
	// Every message was deleted once handled: the queue and its
	// dead-letter queue end empty.
	for _, q := range []string{consumer.Consumer.Queue.Name, consumer.Consumer.DeadLetterQueue.Name} {
		url, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q})
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]string
		err = poll(ctx, "queue "+q+" empty", 30*time.Second, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
			out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []qtypes.QueueAttributeName{
				qtypes.QueueAttributeNameApproximateNumberOfMessages, qtypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			}})
			if err != nil {
				return false, err
			}
			attrs = out.Attributes
			return attrs["ApproximateNumberOfMessages"] == "0" && attrs["ApproximateNumberOfMessagesNotVisible"] == "0", nil
		})
		if err != nil {
			t.Errorf("%v: %v", err, attrs)
		}
	}
	// The events that must not arrive were written or put before those
	// that did, on the same paths.
	for _, what := range []string{"other", "foreign"} {
		if item, err := received(what); err != nil || item != nil {
			t.Errorf("event %s reached the consumer (%v): the stream filter or the rule's sources let it through", what, err)
		}
	}
}

// eventsDrift changes the deployed events resources behind the deployer's
// back and returns the progress lines the next deploy must print as it
// brings each back.
func eventsDrift(t *testing.T, c clients, model *deployment.Deployment) []string {
	t.Helper()
	ctx := t.Context()
	bus := model.EventBus
	consumer, relay := model.Function("evsub-got"), model.Function("evfix-relay")
	if _, err := c.events.UpdateEventBus(ctx, &eventbridge.UpdateEventBusInput{Name: &bus.Name, Description: aws.String("changed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.events.UpdateArchive(ctx, &eventbridge.UpdateArchiveInput{ArchiveName: &bus.Archive.Name, RetentionDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	r := consumer.Consumer.Rule
	if _, err := c.events.PutRule(ctx, &eventbridge.PutRuleInput{Name: &r.Name, EventBusName: &bus.Name, EventPattern: aws.String(`{"source":["elsewhere"]}`), Description: &r.Description}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &r.Name, EventBusName: &bus.Name, Targets: []etypes.Target{{Id: aws.String("extra"), Arn: &consumer.Consumer.DeadLetterQueue.ARN}}}); err != nil {
		t.Fatal(err)
	}
	url, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &consumer.Consumer.Queue.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: url.QueueUrl, Attributes: map[string]string{
		attrVisibilityTimeout: "1", attrRedrivePolicy: mustJSON(redrivePolicy{DeadLetterTargetARN: consumer.Consumer.DeadLetterQueue.ARN, MaxReceiveCount: 50}), attrPolicy: "",
	}}); err != nil {
		t.Fatal(err)
	}
	m := liveMappings(t, c, consumer.FunctionName)
	if len(m) != 1 {
		t.Fatalf("consumer mappings %s, want one", mustJSON(m))
	}
	if _, err := c.lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m[0].UUID, BatchSize: aws.Int32(3), FunctionResponseTypes: []ltypes.FunctionResponseType{}}); err != nil {
		t.Fatal(err)
	}
	// A twin of the relay's mapping, as a create retried after a lost
	// response makes on MiniStack.
	rm := liveMappings(t, c, relay.FunctionName)
	if len(rm) != 1 {
		t.Fatalf("relay mappings %s, want one", mustJSON(rm))
	}
	if _, err := c.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: &relay.FunctionName, EventSourceArn: rm[0].EventSourceArn, StartingPosition: ltypes.EventSourcePositionLatest,
	}); err != nil {
		t.Fatal(err)
	}
	return []string{
		progressLine("event bus", bus.Name, statusUpdated),
		progressLine("archive", bus.Archive.Name, statusUpdated),
		progressLine("rule", r.Name, statusUpdated),
		progressLine("queue", consumer.Consumer.Queue.Name, statusUpdated),
		progressLine("mapping", consumer.FunctionName, statusUpdated),
		progressLine("mapping", relay.FunctionName, statusUpdated),
	}
}

// checkQueueGone checks that no queue of the names is there.
func checkQueueGone(t *testing.T, c clients, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := c.sqs.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: &name}); !awserr.HasCode(err, queueNotFound...) {
			t.Errorf("queue %s after pruning: %v, want it deleted", name, err)
		}
	}
}

// checkRules checks that the rules on bus are exactly want.
func checkRules(t *testing.T, c clients, bus string, want []string) {
	t.Helper()
	out, err := c.events.ListRules(t.Context(), &eventbridge.ListRulesInput{EventBusName: &bus})
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, r := range out.Rules {
		have = append(have, aws.ToString(r.Name))
	}
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("rules on %s: %v, want %v", bus, have, want)
	}
}
