package tracing

import (
	"regexp"
	"testing"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"

	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// startDaemon starts a stand-in daemon and gives the package a fresh
// emitter.
func startDaemon(t *testing.T) *tracingtest.Daemon {
	t.Helper()
	d := tracingtest.StartDaemon(t)
	useFreshEmitter(t)
	return d
}

func useFreshEmitter(t *testing.T) {
	t.Helper()
	old := daemon
	daemon = &emitter{}
	t.Cleanup(func() {
		if daemon.conn != nil {
			_ = daemon.conn.Close()
		}
		daemon = old
	})
}

type doc = tracingtest.Doc

func byName(t *testing.T, docs []doc, name string) doc {
	t.Helper()
	return tracingtest.Named(t, docs, name)
}

var (
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	traceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
)

// checkDocument checks what every document must have.
func checkDocument(t *testing.T, d doc) {
	t.Helper()
	if !spanIDPattern.MatchString(d.Str("id")) {
		t.Errorf("%s: id %q is not 16 hex digits", d.Str("name"), d.Str("id"))
	}
	if !traceIDPattern.MatchString(d.Str("trace_id")) {
		t.Errorf("%s: trace_id %q is not 1-<8 hex>-<24 hex>", d.Str("name"), d.Str("trace_id"))
	}
	if p := d.Str("parent_id"); p != "" && !spanIDPattern.MatchString(p) {
		t.Errorf("%s: parent_id %q is not 16 hex digits", d.Str("name"), p)
	}
	start, _ := d["start_time"].(float64)
	end, _ := d["end_time"].(float64)
	if start < 1e9 || end < start {
		t.Errorf("%s: start %f end %f", d.Str("name"), start, end)
	}
	if d.Str("type") == "subsegment" && d.Str("parent_id") == "" {
		t.Errorf("%s: an independent subsegment without parent_id", d.Str("name"))
	}
}

// sampleAll makes every new trace sampled (the real strategy samples 5 %
// after the first each second).
func sampleAll(t *testing.T, decision bool) {
	t.Helper()
	old := shouldSample
	shouldSample = func(*sampling.Request) bool { return decision }
	t.Cleanup(func() { shouldSample = old })
}

func initNames(t *testing.T, service, function string) {
	t.Helper()
	old := processNames.Load()
	Init(service, function)
	t.Cleanup(func() { processNames.Store(old) })
}
