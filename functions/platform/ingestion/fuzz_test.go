package ingestion

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/problem"
)

// FuzzIngest feeds POST /v1/events arbitrary bodies in every mode (the
// content type picks structured, batch or binary; the ce-* headers are the
// binary mode's attributes). Never a 5xx; a refusal is a 4xx problem and
// publishes nothing; a 202 names, in order, exactly the events published,
// each an event of the catalog, valid against its schema, from a source
// registered for the caller.
func FuzzIngest(f *testing.F) {
	example, err := catalog.Example(received)
	if err != nil {
		f.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(example, &doc); err != nil {
		f.Fatal(err)
	}
	doc["source"] = source
	one, _ := json.Marshal(doc)
	data, _ := json.Marshal(doc["data"])
	f.Add(MediaStructured, "", "", "", "", one)
	f.Add(MediaBatch, "", "", "", "", []byte("["+string(one)+","+string(one)+"]"))
	f.Add(MediaBatch+"; charset=utf-8", "", "", "", "", []byte(`[]`))
	f.Add("application/json", "1.0", "id-1", source, received, data)
	f.Add("application/json", "1.0", "id-1", "com.example.evil", received, data)
	f.Add("", "0.3", "", source, "shop.order.created.v1", []byte(`{`))
	f.Add("text/plain; x=\"", "", "", "", "", []byte(`null`))
	f.Add(MediaStructured, "", "", "", "", []byte(`{"specversion":"1.0","id":"x","source":"`+source+`","type":"`+received+`","data_base64":"AAEC"}`))
	f.Fuzz(func(t *testing.T, contentType, specversion, id, src, typ string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(string(body)))
		for k, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": specversion, "Ce-Id": id, "Ce-Source": src, "Ce-Type": typ} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		r = r.WithContext(principal.WithContext(r.Context(), as("operator")))
		bus := &fakeBus{}
		rec := httptest.NewRecorder()
		Handler(bus, regs).ServeHTTP(rec, r)
		if rec.Code != http.StatusAccepted {
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var d problem.Details
			if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType || json.Unmarshal(rec.Body.Bytes(), &d) != nil || d.Status != rec.Code {
				t.Fatalf("%d without a problem body: %q %s", rec.Code, ct, rec.Body)
			}
			if len(bus.published) > 0 {
				t.Fatalf("refused with %d, but published %d events", rec.Code, len(bus.published))
			}
			return
		}
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("202 body %s: %v", rec.Body, err)
		}
		if !slices.Equal(resp.IDs, bus.ids()) || len(resp.IDs) == 0 {
			t.Fatalf("answered ids %q, published %q", resp.IDs, bus.ids())
		}
		for _, e := range bus.published {
			if !registered(regs[:2], e.Source(), e.Type()) {
				t.Fatalf("published an event of source %q type %q, not registered for the caller", e.Source(), e.Type())
			}
			raw, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := explain.ValidateEvent(raw); err != nil {
				t.Fatalf("published an event against its schema: %v\n%s", err, raw)
			}
		}
	})
}
