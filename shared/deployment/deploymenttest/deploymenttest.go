// Package deploymenttest gives tests the policy documents the deployment
// model grants, so that a test of what evaluates or checks a policy holds
// the deployment's real policy rather than a hand-written copy of it that
// drifts.
//
//	doc := deploymenttest.FunctionPolicy(t, "users", "users-login", manifest.Permissions{SigningKey: true})
package deploymenttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// Params are where FunctionPolicy's function is deployed: prefix shop, the
// emulators' region and account.
var Params = deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"}

// FunctionPolicy is the inline policy document, as the deployment writes
// it to the function's role, of a function name of service with perms,
// deployed with Params.
func FunctionPolicy(t testing.TB, service, name string, perms manifest.Permissions) string {
	t.Helper()
	set := &manifest.Set{Services: []*manifest.Service{{
		Name:  service,
		Table: manifest.Table{PartitionKey: manifest.Key{Name: "pk", Type: "S"}, SortKey: &manifest.Key{Name: "sk", Type: "S"}},
		Functions: []*manifest.Function{{
			Name: name, Service: service, Kind: manifest.KindStep, MemoryMB: 128, TimeoutSecs: 3, Permissions: perms,
		}},
	}}}
	return policy(t, set, name)
}

// EventPolicies are the inline policies the model grants, deployed with
// Params, to the outbox relay orders-relay of a service that publishes
// shop.order.created.v1, and to notifications-notify, which consumes that
// type and writes its own table (dynamodb PutItem).
func EventPolicies(t testing.TB) (relay, consumer string) {
	t.Helper()
	table := manifest.Table{PartitionKey: manifest.Key{Name: "pk", Type: "S"}}
	set := &manifest.Set{Services: []*manifest.Service{{
		Name: "orders", Table: manifest.Table{PartitionKey: table.PartitionKey, Stream: "NEW_IMAGE"}, Publishes: []string{"shop.order.created.v1"},
		Functions: []*manifest.Function{{
			Name: "orders-relay", Service: "orders", Kind: manifest.KindStream, MemoryMB: 128, TimeoutSecs: 30,
			Permissions: manifest.Permissions{PublishEvents: true},
		}},
	}, {
		Name: "notifications", Table: table,
		Functions: []*manifest.Function{{
			Name: "notifications-notify", Service: "notifications", Kind: manifest.KindEvent, MemoryMB: 128, TimeoutSecs: 10,
			Events: &manifest.EventTrigger{Types: []string{"shop.order.created.v1"}}, Permissions: manifest.Permissions{DynamoDB: []string{"PutItem"}},
		}},
	}}}
	return policy(t, set, "orders-relay"), policy(t, set, "notifications-notify")
}

// policy is the inline policy of the function name in the model of set.
func policy(t testing.TB, set *manifest.Set, name string) string {
	t.Helper()
	d, err := deployment.Build(set, Params)
	if err != nil {
		t.Fatal(err)
	}
	fn := d.Function(name)
	if fn == nil {
		t.Fatalf("the model has no function %s", name)
	}
	doc, err := json.Marshal(fn.Role.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// EventsSet loads, from files written to a temporary directory, a stack
// with every kind of event wiring: the service orders publishing
// shop.order.created.v1 and shop.order.confirmed.v1 through its relay
// orders-relay; an ingest endpoint, platform-ingest, with one outside
// publisher (subject warehouse, source com.example.warehouse, type
// shop.warehouse.stock.received.v1); and notes-notify, a consumer of types
// whose pattern adds pattern (a YAML flow mapping).
func EventsSet(t testing.TB, pattern string, types ...string) *manifest.Set {
	t.Helper()
	files := map[string]string{
		"events/shop.order.created.v1.schema.json":            `{}`,
		"events/shop.order.confirmed.v1.schema.json":          `{}`,
		"events/shop.warehouse.stock.received.v1.schema.json": `{}`,
		"functions/orders/service.yaml": `service: orders
description: d
table: {partitionKey: {name: pk, type: S}, stream: NEW_IMAGE}
publishes: [shop.order.created.v1, shop.order.confirmed.v1]
`,
		"functions/orders/relay/function.yaml": `name: orders-relay
description: Publishes the orders outbox.
kind: stream
memory: 128
timeout: 30
permissions: {publishEvents: true}
`,
		"functions/orders/create/function.yaml": `name: orders-create
description: d
kind: http
http: {method: POST, path: /v1/orders, auth: none}
memory: 128
timeout: 5
permissions: {dynamodb: [PutItem]}
`,
		"functions/platform/service.yaml": `service: platform
description: d
table: {partitionKey: {name: pk, type: S}}
`,
		"functions/platform/ingest/function.yaml": `name: platform-ingest
description: d
kind: http
http: {method: POST, path: /v1/events, auth: none}
memory: 128
timeout: 5
permissions: {publishEvents: true}
ingest:
  - {subject: warehouse, source: com.example.warehouse, types: [shop.warehouse.stock.received.v1]}
`,
		"functions/notes/service.yaml": `service: notes
description: d
table: {partitionKey: {name: pk, type: S}}
`,
		"functions/notes/notify/function.yaml": `name: notes-notify
description: Notes what happened.
kind: event
events:
  types: [` + strings.Join(types, ", ") + `]
  pattern: ` + pattern + `
memory: 128
timeout: 10
permissions: {dynamodb: [PutItem]}
`,
	}
	return LoadTree(t, files)
}

// LoadTree writes files (contents by slash-separated path under the
// repository root: "functions/orders/service.yaml", "events/....json") to
// a temporary directory and loads its manifests.
func LoadTree(t testing.TB, files map[string]string) *manifest.Set {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return set
}
