package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTransport(t *testing.T) {
	d := startDaemon(t)
	sampleAll(t, true)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(HeaderName))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	client := &http.Client{Transport: Transport(nil)}

	ctx, inv := Invocation(context.Background(), "")
	rctx, call := StartRemote(ctx, "users")
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+"/v1/users/u-1?email=a@example.com", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get(HeaderName) != "" {
		t.Error("Transport changed the caller's request")
	}
	call.End(nil)

	// Inside the invocation span itself: the header goes, the invocation's
	// own HTTP record is left alone.
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	inv.End(nil)

	docs := d.Wait(2)
	sub := byName(t, docs, "users")
	seg := byName(t, docs, inv.name)
	if got[0] != "Root="+sub.Str("trace_id")+";Parent="+sub.Str("id")+";Sampled=1" {
		t.Errorf("sent %q for subsegment %s", got[0], sub.Str("id"))
	}
	if got[1] != "Root="+seg.Str("trace_id")+";Parent="+seg.Str("id")+";Sampled=1" {
		t.Errorf("sent %q for segment %s", got[1], seg.Str("id"))
	}
	h := sub.Obj("http")
	if h["request"].(map[string]any)["url"] != srv.URL+"/v1/users/u-1" || h["request"].(map[string]any)["method"] != "GET" ||
		h["response"].(map[string]any)["status"] != 503.0 || sub["fault"] != true {
		t.Errorf("subsegment %v", sub)
	}
	if seg["http"] != nil {
		t.Errorf("the invocation span got the call's HTTP record: %v", seg["http"])
	}

	// No span: the request goes as it is.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/y", nil)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got[2] != "" {
		t.Errorf("header %q without a span", got[2])
	}
}
