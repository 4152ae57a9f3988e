// Package tracingtest is a stand-in for the X-Ray daemon in tests: a UDP
// listener on 127.0.0.1 that keeps every document shared/tracing sends it.
//
//	d := tracingtest.StartDaemon(t) // sets AWS_XRAY_DAEMON_ADDRESS
//	... code that ends spans ...
//	seg := d.Named(d.Wait(2), "orders-create")
//
// It sets the environment with t.Setenv, so a test that uses it cannot run
// in parallel.
package tracingtest

import (
	"bytes"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"
)

// Doc is one received document, decoded loosely (numbers are float64) so
// that tests see exactly what went over the wire.
type Doc map[string]any

// Str is the string member key ("" when absent).
func (d Doc) Str(key string) string { s, _ := d[key].(string); return s }

// Obj is the object member key (nil when absent).
func (d Doc) Obj(key string) map[string]any { m, _ := d[key].(map[string]any); return m }

// Daemon is the listener.
type Daemon struct {
	t    testing.TB
	conn *net.UDPConn
	mu   sync.Mutex
	docs []Doc
}

// StartDaemon listens on 127.0.0.1:0 and points AWS_XRAY_DAEMON_ADDRESS
// at it for the rest of the test.
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{t: t, conn: conn}
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", conn.LocalAddr().String())
	go d.read()
	t.Cleanup(func() { _ = conn.Close() })
	return d
}

// ClosedAddress is a UDP address nothing listens on: where spans go when
// there is no daemon.
func ClosedAddress(t testing.TB) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	_ = conn.Close()
	return addr
}

const documentHeader = `{"format":"json","version":1}`

func (d *Daemon) read() {
	buf := make([]byte, 64*1024)
	for {
		n, err := d.conn.Read(buf)
		if err != nil {
			return
		}
		head, body, ok := bytes.Cut(buf[:n], []byte("\n"))
		if !ok || string(head) != documentHeader {
			d.t.Errorf("datagram without the document header: %q", buf[:n])
			continue
		}
		var doc Doc
		if err := json.Unmarshal(body, &doc); err != nil {
			d.t.Errorf("document is not JSON: %v: %s", err, body)
			continue
		}
		d.mu.Lock()
		d.docs = append(d.docs, doc)
		d.mu.Unlock()
	}
}

// Wait returns the documents received once n have arrived, and fails the
// test if that takes more than two seconds or more than n arrive.
func (d *Daemon) Wait(n int) []Doc {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := d.Docs()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				d.t.Fatalf("daemon got %d documents, want %d: %v", len(got), n, got)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Quiet checks, after a moment, that exactly n documents arrived.
func (d *Daemon) Quiet(n int) {
	d.t.Helper()
	time.Sleep(100 * time.Millisecond)
	if got := d.Docs(); len(got) != n {
		d.t.Fatalf("daemon got %d documents, want %d: %v", len(got), n, got)
	}
}

// Docs is what has arrived so far.
func (d *Daemon) Docs() []Doc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Doc(nil), d.docs...)
}

// Named is the document of docs named name; it fails the test if none is.
func Named(t testing.TB, docs []Doc, name string) Doc {
	t.Helper()
	for _, d := range docs {
		if d.Str("name") == name {
			return d
		}
	}
	t.Fatalf("no document named %q in %v", name, docs)
	return nil
}
