package tracing

import (
	"bytes"
	"encoding/json"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
)

// fakeDaemon is a UDP listener standing in for the X-Ray daemon: it keeps
// every document sent to it, decoded.
type fakeDaemon struct {
	t    *testing.T
	conn *net.UDPConn
	mu   sync.Mutex
	docs []doc
}

// doc is a received document, decoded loosely so that tests see exactly
// what went over the wire.
type doc map[string]any

func (d doc) str(key string) string { s, _ := d[key].(string); return s }

func (d doc) obj(key string) map[string]any { m, _ := d[key].(map[string]any); return m }

// startDaemon listens on 127.0.0.1:0, points AWS_XRAY_DAEMON_ADDRESS at
// it and gives the package a fresh emitter (the real one dials once per
// process).
func startDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDaemon{t: t, conn: conn}
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", conn.LocalAddr().String())
	useFreshEmitter(t)
	go d.read()
	t.Cleanup(func() { _ = conn.Close() })
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

func (d *fakeDaemon) read() {
	buf := make([]byte, maxDatagram)
	for {
		n, err := d.conn.Read(buf)
		if err != nil {
			return
		}
		head, body, ok := bytes.Cut(buf[:n], []byte("\n"))
		if !ok || string(head) != `{"format":"json","version":1}` {
			d.t.Errorf("datagram without the document header: %q", buf[:n])
			continue
		}
		var m doc
		if err := json.Unmarshal(body, &m); err != nil {
			d.t.Errorf("document is not JSON: %v: %s", err, body)
			continue
		}
		d.mu.Lock()
		d.docs = append(d.docs, m)
		d.mu.Unlock()
	}
}

// wait returns the documents once n have arrived (or fails the test).
func (d *fakeDaemon) wait(n int) []doc {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		d.mu.Lock()
		got := append([]doc(nil), d.docs...)
		d.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				d.t.Fatalf("daemon got %d documents, want %d: %v", len(got), n, got)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quiet checks that nothing more than n documents arrives.
func (d *fakeDaemon) quiet(n int) {
	d.t.Helper()
	time.Sleep(100 * time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.docs) != n {
		d.t.Fatalf("daemon got %d documents, want %d: %v", len(d.docs), n, d.docs)
	}
}

func byName(t *testing.T, docs []doc, name string) doc {
	t.Helper()
	for _, d := range docs {
		if d.str("name") == name {
			return d
		}
	}
	t.Fatalf("no document named %q in %v", name, docs)
	return nil
}

var (
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	traceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
)

// checkDocument checks what every document must have.
func checkDocument(t *testing.T, d doc) {
	t.Helper()
	if !spanIDPattern.MatchString(d.str("id")) {
		t.Errorf("%s: id %q is not 16 hex digits", d.str("name"), d.str("id"))
	}
	if !traceIDPattern.MatchString(d.str("trace_id")) {
		t.Errorf("%s: trace_id %q is not 1-<8 hex>-<24 hex>", d.str("name"), d.str("trace_id"))
	}
	if p := d.str("parent_id"); p != "" && !spanIDPattern.MatchString(p) {
		t.Errorf("%s: parent_id %q is not 16 hex digits", d.str("name"), p)
	}
	start, _ := d["start_time"].(float64)
	end, _ := d["end_time"].(float64)
	if start < 1e9 || end < start {
		t.Errorf("%s: start %f end %f", d.str("name"), start, end)
	}
	if d.str("type") == "subsegment" && d.str("parent_id") == "" {
		t.Errorf("%s: an independent subsegment without parent_id", d.str("name"))
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
