package tests

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Other systems put events in through POST /v1/events: a service token
// with events:publish whose subject is registered for the event's source
// and type (platform-ingest's manifest: the operator, as the warehouse).
// Accepted events travel like the shop's own; here inventory-receive-stock
// adds each shipment to the product's stock, once however often it comes.
func TestIngest(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	p := newProduct(t, 5)
	tok := operatorToken(t, "events:publish")
	const warehouse = "com.example.warehouse"
	shipment := func(quantity int, edit func(e, data map[string]any)) (string, []byte) {
		return example(t, "shop.warehouse.stock.received.v1", func(e, data map[string]any) {
			e["subject"], data["productId"], data["quantity"] = p.ID, p.ID, quantity
			data["shipmentId"] = fmt.Sprintf("SHP-%d", time.Now().UnixNano())
			if edit != nil {
				edit(e, data)
			}
		})
	}
	post := func(contentType string, body []byte, headers ...string) response {
		t.Helper()
		return call(t, "POST", "/v1/events", body, append(append(bearer(tok), "Content-Type", contentType), headers...)...)
	}
	accepted := func(r response, ids ...string) {
		t.Helper()
		if r.Status != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %s", r.Status, r.Body)
		}
		var got struct{ IDs []string }
		r.json(t, &got)
		if !slices.Equal(got.IDs, ids) {
			t.Errorf("accepted ids %q, want %q", got.IDs, ids)
		}
	}

	// Structured mode.
	structuredID, structured := shipment(3, nil)
	accepted(post("application/cloudevents+json", structured), structuredID)

	// Binary mode: the data is the body, the attributes are headers.
	binaryID := fmt.Sprintf("e2e-binary-%d", time.Now().UnixNano())
	data := fmt.Sprintf(`{"productId":%q,"quantity":4,"shipmentId":"SHP-B-%d"}`, p.ID, time.Now().UnixNano())
	accepted(post("application/json", []byte(data),
		"ce-specversion", "1.0", "ce-id", binaryID, "ce-source", warehouse,
		"ce-type", "shop.warehouse.stock.received.v1", "ce-subject", p.ID,
		"ce-time", time.Now().UTC().Format(time.RFC3339), "ce-dataschema", "urn:shop:event:shop.warehouse.stock.received.v1"), binaryID)

	// Batch mode.
	id5, e5 := shipment(5, nil)
	id6, e6 := shipment(6, nil)
	accepted(post("application/cloudevents-batch+json", []byte("["+string(e5)+","+string(e6)+"]")), id5, id6)

	want := stock{Available: 5 + 3 + 4 + 5 + 6}
	eventually(t, func() bool { return stockOf(t, p.ID) == want }, fmt.Sprintf("product %s at %+v", p.ID, want))
	for _, id := range []string{structuredID, binaryID, id5, id6} {
		awaitEvents(t, "ingested event "+id, 1, func(e cloudEvent) bool { return e.ID == id && e.Source == warehouse })
	}

	// The same event again is accepted (the sender may retry) and changes nothing.
	accepted(post("application/cloudevents+json", structured), structuredID)

	refused := func(name string, status int, r response, field string) {
		t.Helper()
		pb := expect(t, r, status)
		if field != "" && !slices.ContainsFunc(pb.Errors, func(f struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		}) bool {
			return f.Field == field
		}) {
			t.Errorf("%s: errors %+v do not name %s", name, pb.Errors, field)
		}
	}
	_, invalid := shipment(0, nil) // quantity below the schema's minimum
	refused("invalid schema", http.StatusBadRequest, post("application/cloudevents+json", invalid), "/data/quantity")
	_, unknown := shipment(1, func(e, _ map[string]any) { e["type"] = "shop.warehouse.stock.lost.v1" })
	refused("unknown type", http.StatusBadRequest, post("application/cloudevents+json", unknown), "")
	_, foreign := shipment(1, func(e, _ map[string]any) { e["source"] = "com.example.elsewhere" })
	refused("foreign source", http.StatusForbidden, post("application/cloudevents+json", foreign), "")
	_, impostor := example(t, "shop.order.created.v1", func(e, _ map[string]any) { e["source"] = warehouse })
	refused("a type not registered for the source", http.StatusForbidden, post("application/cloudevents+json", impostor), "")
	_, big := shipment(1, func(e, _ map[string]any) { e["padding"] = strings.Repeat("x", 260*1024) })
	refused("oversize event", http.StatusRequestEntityTooLarge, post("application/cloudevents+json", big), "")
	var eleven []string
	for range 11 {
		_, e := shipment(1, nil)
		eleven = append(eleven, string(e))
	}
	refused("eleven events", http.StatusBadRequest, post("application/cloudevents-batch+json", []byte("["+strings.Join(eleven, ",")+"]")), "")
	_, ok := shipment(1, nil)
	if r := call(t, "POST", "/v1/events", ok, "Content-Type", "application/cloudevents+json"); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", r.Status, r.Body)
	}
	wrong := operatorToken(t, "inventory:write")
	refused("wrong scope", http.StatusForbidden, call(t, "POST", "/v1/events", ok, append(bearer(wrong), "Content-Type", "application/cloudevents+json")...), "")

	// Nothing refused reached the stock, and the repeat counted once.
	time.Sleep(3 * time.Second)
	if got := stockOf(t, p.ID); got != want {
		t.Errorf("stock %+v after the refusals and the repeat, want %+v", got, want)
	}
}
