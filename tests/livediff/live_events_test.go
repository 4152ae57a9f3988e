package livediff

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	etypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
)

// The events fixture: a publishing service with its relay, and a consumer
// of its events. The functions only have to deploy, not to work: each is
// the same echo binary.
var eventsFixtureFiles = map[string]string{
	"events/shop.evpub.made.v1.schema.json": `{}`,
	"functions/evpub/service.yaml": `service: evpub
description: The publisher of the live diff's events fixture.
table: {partitionKey: {name: pk, type: S}, stream: NEW_IMAGE}
publishes: [shop.evpub.made.v1]
`,
	"functions/evpub/relay/function.yaml": `name: evpub-relay
description: Publishes the outbox.
kind: stream
memory: 128
timeout: 10
permissions: {publishEvents: true}
`,
	"functions/evsub/service.yaml": `service: evsub
description: The consumer of the live diff's events fixture.
table: {partitionKey: {name: pk, type: S}}
`,
	"functions/evsub/got/function.yaml": `name: evsub-got
description: Gets the events.
kind: event
events: {types: [shop.evpub.made.v1]}
memory: 128
timeout: 3
permissions: {dynamodb: [PutItem]}
`,
	"functions/evpub/relay/main.go": echoMain,
	"functions/evsub/got/main.go":   echoMain,
}

const echoMain = `package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
}
`

// eventsFixture writes the fixture under the repository's build/
// (git-ignored), inside the module so its functions build.
func eventsFixture(t *testing.T) string {
	t.Helper()
	root := filepath.Join(repoRoot, "build", "livediff-events-fixture")
	for _, dir := range []string{"functions", "events"} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range eventsFixtureFiles {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestLiveTwoEventStacksAreEqual deploys the events fixture twice with the
// local deployer, the second prefix extending the first, and checks that
// the snapshots hold the bus, its archive, the consumer's rule with its
// target, the queues and both kinds of mapping, and that Diff finds them
// equal (the table streams' labels, which differ, included); then changes
// one event resource at a time in the second stack and checks that Diff
// reports exactly that, and nothing once undone; a rule not of the
// stack's name on its bus (a test's capture rule) is no difference.
func TestLiveTwoEventStacksAreEqual(t *testing.T) {
	testenv.RequireEmulator(t)
	ctx := t.Context()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := eventsFixture(t)
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	prefixA := randomPrefix()
	prefixB := prefixA + "-b"
	deployer := buildDeployer(t)
	deployStackOf(t, deployer, root, prefixA)
	t.Cleanup(func() { deleteStack(t, cfg, prefixA) })
	deployStackOf(t, deployer, root, prefixB)
	t.Cleanup(func() { deleteStack(t, cfg, prefixB) })

	a := snapshotOf(t, cfg, prefixA)
	b := snapshotOf(t, cfg, prefixB)
	checkComplete(t, a, set)
	checkComplete(t, b, set)
	if d := Diff(a, b); len(d) > 0 {
		t.Fatalf("two deployer stacks differ:\n%s", strings.Join(d, "\n"))
	}
	if len(a.Mappings) != 2 || len(a.Queues) != 3 {
		t.Fatalf("snapshot of %s: mappings %v, queues %v; want the consumer's and the relay's", prefixA, keys(a.Mappings), keys(a.Queues))
	}

	m := mutator{t: t, cfg: cfg, prefix: prefixB, a: a}
	eb := eventbridge.NewFromConfig(cfg)
	bus := naming.EventBus(prefixB)
	rule := naming.Rule(prefixB, "evsub-got")
	queue := naming.Queue(prefixB, "evsub-got")
	consumer := naming.Function(prefixB, "evsub-got")

	t.Run("rule pattern", func(t *testing.T) {
		was, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &rule, EventBusName: &bus})
		if err != nil {
			t.Fatal(err)
		}
		put := func(pattern string) {
			t.Helper()
			if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &rule, EventBusName: &bus, EventPattern: &pattern, Description: was.Description}); err != nil {
				t.Fatal(err)
			}
		}
		put(`{"source":["elsewhere"]}`)
		m.expect(t, fmt.Sprintf(`rule evsub-got: event pattern %s vs {"source":["elsewhere"]}`, canonicalJSON(aws.ToString(was.EventPattern))))
		put(aws.ToString(was.EventPattern))
		m.expect(t)
	})
	t.Run("extra target", func(t *testing.T) {
		dlq := fmt.Sprintf("arn:aws:sqs:us-east-1:%s:%s", accountOf(t, cfg), naming.DeadLetterQueue(prefixB, "evsub-got"))
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &rule, EventBusName: &bus, Targets: []etypes.Target{{Id: aws.String("extra"), Arn: &dlq}}}); err != nil {
			t.Fatal(err)
		}
		m.expect(t, "rule evsub-got: target extra: only in b")
		if _, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &rule, EventBusName: &bus, Ids: []string{"extra"}}); err != nil {
			t.Fatal(err)
		}
		m.expect(t)
	})
	t.Run("capture rule of a test", func(t *testing.T) {
		capture := "e2e-livediff-" + prefixB
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &capture, EventBusName: &bus, EventPattern: aws.String(`{"source":["x"]}`)}); err != nil {
			t.Fatal(err)
		}
		m.expect(t)
		if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &capture, EventBusName: &bus}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("archive retention", func(t *testing.T) {
		was, err := eb.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &bus})
		if err != nil {
			t.Fatal(err)
		}
		update := func(days int32) {
			t.Helper()
			if _, err := eb.UpdateArchive(ctx, &eventbridge.UpdateArchiveInput{ArchiveName: &bus, RetentionDays: &days, Description: was.Description}); err != nil {
				t.Fatal(err)
			}
		}
		update(aws.ToInt32(was.RetentionDays) + 1)
		m.expect(t, fmt.Sprintf("archive events: retention days %d vs %d", aws.ToInt32(was.RetentionDays), aws.ToInt32(was.RetentionDays)+1))
		update(aws.ToInt32(was.RetentionDays))
		m.expect(t)
	})
	t.Run("queue visibility and redrive", func(t *testing.T) {
		qc := sqs.NewFromConfig(cfg)
		url, err := qc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &queue})
		if err != nil {
			t.Fatal(err)
		}
		was := b.Queues[naming.Queue(PrefixToken, "evsub-got")]
		redrive := func(count string) string {
			return fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:%s:%s","maxReceiveCount":%s}`, accountOf(t, cfg), naming.DeadLetterQueue(prefixB, "evsub-got"), count)
		}
		set := func(visibility, count string) {
			t.Helper()
			if _, err := qc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: url.QueueUrl, Attributes: map[string]string{"VisibilityTimeout": visibility, "RedrivePolicy": redrive(count)}}); err != nil {
				t.Fatal(err)
			}
		}
		set("7", "50")
		m.expect(t, "queue evsub-got: visibility timeout "+was.VisibilityTimeout+" vs 7", "queue evsub-got: max receive count "+was.MaxReceiveCount+" vs 50")
		set(was.VisibilityTimeout, was.MaxReceiveCount)
		m.expect(t)
	})
	t.Run("mapping batch size", func(t *testing.T) {
		lc := lambda.NewFromConfig(cfg)
		out, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: &consumer})
		if err != nil || len(out.EventSourceMappings) != 1 {
			t.Fatalf("mappings of %s: %v (%v), want one", consumer, out, err)
		}
		mapping := out.EventSourceMappings[0]
		update := func(size int32) {
			t.Helper()
			if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: mapping.UUID, BatchSize: &size}); err != nil {
				t.Fatal(err)
			}
		}
		update(3)
		key := "evsub-got <- " + naming.Queue(PrefixToken, "evsub-got")
		m.expect(t, fmt.Sprintf("event source mapping %s: batch size %d vs 3", key, aws.ToInt32(mapping.BatchSize)))
		update(aws.ToInt32(mapping.BatchSize))
		m.expect(t)
	})
}

// accountOf is the account the emulator answers for, as STS tells it.
func accountOf(t *testing.T, cfg aws.Config) string {
	t.Helper()
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(id.Account)
}
