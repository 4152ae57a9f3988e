package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/manifest"
)

// CatalogReadme is events/README.md: the catalog's conventions and one row
// per event type with its producer and consumers, as the manifests declare
// them, so the list cannot drift from what is deployed.
const CatalogReadme = "events/README.md"

func catalogReadme(set *manifest.Set) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# Event catalog

<!-- Generated from events/*.schema.json and the manifests by make generate (infra/generate); do not edit. -->

Every event of the shop is a [CloudEvent 1.0](https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md)
in structured JSON mode, described here by one JSON Schema (2020-12) per type, with an example.
[cloudevent.schema.json](cloudevent.schema.json) is the envelope every type's schema refers to.

- **type** is ` + "`shop.<entity>.<action>.v<version>`" + `; the version is part of the name. A change a
  consumer could trip on (a field removed, renamed or retyped, a meaning changed) is a new type
  (` + "`.v2`" + `), published beside the old one until its consumers have moved; adding an optional field is not.
- **source** is ` + "`shop.<service>`" + ` for the shop's own services (written in the service's outbox, in the
  same DynamoDB transaction as the change, and relayed to the bus by the service's stream relay), or the
  source registered for an outside system (` + "`functions/platform/ingest/function.yaml`" + `).
- **subject** is the id of what the event is about: the order, user or product.
- **id** is unique per event; consumers deduplicate on it, so a redelivery or a replay has no second effect.
- **dataschema** is the schema's ` + "`$id`" + ` (` + "`urn:shop:event:<type>`" + `); **correlationid** (extension) is the
  correlation id of the request that caused the event.
- On EventBridge the entry's ` + "`source`" + ` is the event's source, its ` + "`detail-type`" + ` the event's type and its
  ` + "`detail`" + ` the whole structured CloudEvent, so a consumer gets back exactly what was sent.

Producers validate every event against its schema before it is written; the ingest endpoint validates
what outside systems send; consumers validate what they receive (anyone with IAM rights can put events
on the bus directly), and an event that fails goes to the consumer's dead-letter queue.

| type | producer | consumers | what happened |
|---|---|---|---|
`)
	for _, t := range set.EventTypes {
		schema, err := catalog.Schema(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", CatalogReadme, err)
		}
		var doc struct {
			Description string `json:"description"`
		}
		if err := json.Unmarshal(schema, &doc); err != nil {
			return nil, fmt.Errorf("events/%s.schema.json: %w", t, err)
		}
		producer := "nothing yet"
		if p, ok := set.Producer(t); ok {
			if p.Service != "" {
				producer = fmt.Sprintf("%s (`%s`)", p.Service, p.Source)
			} else {
				producer = fmt.Sprintf("outside: `%s` (token subject %s, through `POST /v1/events`)", p.Source, p.Subject)
			}
		}
		var consumers []string
		for _, fn := range set.Consumers(t) {
			consumers = append(consumers, fn.Name)
		}
		if len(consumers) == 0 {
			consumers = []string{"none"}
		}
		fmt.Fprintf(&b, "| [%s](%s.schema.json) ([example](%s.example.json)) | %s | %s | %s |\n",
			t, t, t, producer, strings.Join(consumers, ", "), doc.Description)
	}
	return b.Bytes(), nil
}
