package runtime

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/runtime/internal/lambdatest"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

const (
	lambdaHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	callerRoot   = "1-6759e988-0123456789abcdef01234567"
	callerParent = "0aa0bb0cc0dd0ee0"
	callerHeader = "Root=" + callerRoot + ";Parent=" + callerParent + ";Sampled=1"
)

func TestStartHTTPOnLambdaContinuesTheCallersTrace(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	tracing.Init("products", "products-get")
	req := apiRequest(http.MethodGet, "/products/p-1")
	req.RawQueryString = "email=a@example.com"
	req.Headers["x-amzn-trace-id"] = callerHeader
	payload, _ := json.Marshal(req)
	var sent string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = tracing.Header(r.Context())
		w.WriteHeader(http.StatusNotFound)
	})
	res := lambdatest.InvokeTraced(t, func() { StartHTTP(h) }, payload, lambdaHeader)
	if res.Outcome != "response" {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Body)
	}
	seg := d.Wait(1)[0]
	if seg.Str("name") != "products-get" || seg.Str("trace_id") != callerRoot || seg.Str("parent_id") != callerParent || seg.Str("type") != "" {
		t.Errorf("want a segment in the caller's trace: %v", seg)
	}
	if seg.Obj("annotations")["service"] != "products" {
		t.Errorf("annotations %v", seg.Obj("annotations"))
	}
	req2 := seg.Obj("http")["request"].(map[string]any)
	if req2["method"] != "GET" || req2["url"] != "/products/p-1" || seg.Obj("http")["response"].(map[string]any)["status"] != 404.0 || seg["error"] != true {
		t.Errorf("http %v error %v", seg.Obj("http"), seg["error"])
	}
	if sent != "Root="+callerRoot+";Parent="+seg.Str("id")+";Sampled=1" {
		t.Errorf("the handler's context carries %q", sent)
	}
}

func TestStartHTTPOnLambdaWithoutCallerIsLambdasSubsegment(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	payload, _ := json.Marshal(apiRequest(http.MethodGet, "/products/p-1"))
	res := lambdatest.InvokeTraced(t, func() { StartHTTP(http.NotFoundHandler()) }, payload, lambdaHeader)
	if res.Outcome != "response" {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Body)
	}
	sub := d.Wait(1)[0]
	if sub.Str("type") != "subsegment" || sub.Str("trace_id") != "1-5759e988-bd862e3fe1be46a994272793" || sub.Str("parent_id") != "53995c3f42cd8ad8" {
		t.Errorf("want a subsegment of Lambda's segment: %v", sub)
	}
}

func TestKnativeHTTPIsTraced(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	h := traced(routed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tracing.TraceID(r.Context()) != callerRoot {
			t.Errorf("handler's trace %q", tracing.TraceID(r.Context()))
		}
		_, _ = io.WriteString(w, "ok")
	}), "GET /v1/users/{id}"))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/users/u-1?token=secret", nil)
	req.Header.Set(tracing.HeaderName, callerHeader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seg := d.Wait(1)[0]
	if seg.Str("trace_id") != callerRoot || seg.Str("parent_id") != callerParent || seg.Str("type") != "" {
		t.Errorf("segment %v", seg)
	}
	if r := seg.Obj("http")["request"].(map[string]any); r["url"] != "/v1/users/u-1" || seg.Obj("http")["response"].(map[string]any)["status"] != 200.0 {
		t.Errorf("http %v", seg.Obj("http"))
	}
}

func TestKnativeHTTPServesWithoutADaemon(t *testing.T) {
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", tracingtest.ClosedAddress(t))
	srv := httptest.NewServer(traced(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})))
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", nil)
		req.Header.Set(tracing.HeaderName, callerHeader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("resp %v err %v", resp, err)
		}
		resp.Body.Close()
	}
}

func TestStepContinuesTheSagasTrace(t *testing.T) {
	const payload = `{"orderId":"o-1","sku":"s-1","quantity":1,"traceHeader":"` + callerHeader + `"}`
	check := func(t *testing.T, d *tracingtest.Daemon, wantFault bool) {
		t.Helper()
		got := d.Wait(1)[0]
		if got.Str("trace_id") != callerRoot || got.Str("parent_id") != callerParent || got.Obj("annotations")["orderId"] != "o-1" {
			t.Errorf("span %v", got)
		}
		if (got["fault"] == true) != wantFault || (got.Obj("cause") != nil) != wantFault {
			t.Errorf("fault %v cause %v, want %v", got["fault"], got.Obj("cause"), wantFault)
		}
	}
	t.Run("Lambda", func(t *testing.T) {
		d := tracingtest.StartDaemon(t)
		res := lambdatest.InvokeTraced(t, func() { StartStep(reserveStep, nil) }, []byte(payload), lambdaHeader)
		if res.Outcome != "response" || string(res.Body) != `{"reservationId":"r-o-1","note":"<kept as is>"}` {
			t.Fatalf("outcome %s: %s", res.Outcome, res.Body)
		}
		check(t, d, false)
	})
	t.Run("Knative", func(t *testing.T) {
		d := tracingtest.StartDaemon(t)
		if rec := postStep(t, http.MethodPost, payload); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		check(t, d, false)
	})
	t.Run("Knative step error", func(t *testing.T) {
		d := tracingtest.StartDaemon(t)
		body := strings.Replace(payload, `"s-1"`, `"typed"`, 1)
		if rec := postStep(t, http.MethodPost, body); rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "InsufficientStock") {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		check(t, d, true)
	})
	t.Run("unknown fields are still rejected", func(t *testing.T) {
		tracingtest.StartDaemon(t)
		if rec := postStep(t, http.MethodPost, `{"orderId":"o-1","traceHeader":"x","surprise":1}`); rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func TestSplitStepInput(t *testing.T) {
	tests := []struct {
		name, raw, wantRest, wantTrace, wantOrder string
	}{
		{"both", `{"orderId":"o-1","traceHeader":"Root=x","n":1}`, `{"n":1,"orderId":"o-1"}`, "Root=x", "o-1"},
		{"no trace header: untouched", ` {"b":1, "a":2}`, ` {"b":1, "a":2}`, "", ""},
		{"null trace header", `{"traceHeader":null}`, `{}`, "", ""},
		{"orderId not a string", `{"orderId":7}`, `{"orderId":7}`, "", ""},
		{"not an object", `["traceHeader"]`, `["traceHeader"]`, "", ""},
		{"broken", `{"traceHeader":`, `{"traceHeader":`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rest, env, err := splitStepInput([]byte(tt.raw))
			if err != nil || string(rest) != tt.wantRest || env.traceHeader != tt.wantTrace || env.orderID != tt.wantOrder {
				t.Errorf("= %s, %+v, %v", rest, env, err)
			}
		})
	}
}
