package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const daemonHeader = `{"format":"json","version":1}` + "\n"

// start runs a collector on a free UDP port writing to a file in a
// temporary directory, and stops it when the test ends.
func start(t *testing.T) (c *collector, path string, stop func() error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "traces.jsonl")
	c, err := listen("127.0.0.1:0", path, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(5 * time.Second):
				serveErr = fmt.Errorf("serve did not return within 5s of the stop")
			}
		})
		return serveErr
	}
	t.Cleanup(func() { _ = stop() })
	return c, path, stop
}

// send sends each datagram from a socket of its own.
func send(t *testing.T, to *net.UDPAddr, datagrams ...string) {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitLines reads path until it holds n lines, or fails after 5 s.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := readLines(t, path)
		if len(lines) >= n || time.Now().After(deadline) {
			if len(lines) != n {
				t.Fatalf("%s holds %d lines, want %d:\n%s", path, len(lines), n, strings.Join(lines, "\n"))
			}
			return lines
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxDatagram)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func segment(id string) string {
	return `{"name":"orders-create","id":"` + id + `","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1.5,"end_time":1.6}`
}

// A segment and an independent subsegment arrive as datagrams and are in
// the file, one compact JSON line each, as soon as they are sent: the
// end-to-end test reads the file right after its request.
func TestDocumentsAreAppendedAsLines(t *testing.T) {
	c, path, _ := start(t)
	sub := "{\n  \"type\": \"subsegment\", \"id\": \"53995c3f42cd8ad9\",\n  \"trace_id\": \"1-5759e988-bd862e3fe1be46a994272793\", \"parent_id\": \"53995c3f42cd8ad8\",\n  \"name\": \"DynamoDB\", \"namespace\": \"aws\"}\n"
	send(t, c.Addr(), daemonHeader+segment("53995c3f42cd8ad8"), daemonHeader+sub)
	lines := waitLines(t, path, 2)
	for i, want := range []string{"53995c3f42cd8ad8", "53995c3f42cd8ad9"} {
		var doc map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &doc); err != nil {
			t.Fatalf("line %d %q: %v", i, lines[i], err)
		}
		if doc["id"] != want {
			t.Errorf("line %d: id %v, want %s (in the order sent)", i, doc["id"], want)
		}
	}
	if strings.Contains(lines[1], "\n") || strings.Contains(lines[1], "  ") {
		t.Errorf("line %q is not compacted", lines[1])
	}
	if s := c.stats(); s.written != 2 || s.rejected != 0 {
		t.Errorf("stats %+v, want 2 written, 0 rejected", s)
	}
}

// Anything but a daemon datagram is counted and dropped; the file holds
// documents only, and the collector goes on serving.
func TestOtherDatagramsAreRejected(t *testing.T) {
	c, path, _ := start(t)
	bad := []string{
		segment("a1"), // no header
		`{"format":"json","version":2}` + "\n" + segment("a2"),
		`{"format":"text","version":1}` + "\n" + segment("a3"),
		"hello\n" + segment("a4"),
		daemonHeader + `{"id":"a5","trace_id":`,              // cut short
		daemonHeader + `["not","an","object"]`,               // not an object
		daemonHeader + `{"name":"no ids"}`,                   // no id or trace_id
		daemonHeader,                                         // no document
		daemonHeader + `{"id":"a6","trace_id":"t"} trailing`, // not one JSON value
	}
	send(t, c.Addr(), bad...)
	send(t, c.Addr(), daemonHeader+segment("good"))
	lines := waitLines(t, path, 1)
	if !strings.Contains(lines[0], `"good"`) {
		t.Errorf("the file holds %q, want only the valid document", lines[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.stats().rejected < len(bad) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := c.stats(); s.rejected != len(bad) || s.written != 1 {
		t.Errorf("stats %+v, want %d rejected and 1 written", s, len(bad))
	}
}

// Many senders at once (a saga's steps, a relay's batch): every document
// arrives whole, on a line of its own.
func TestConcurrentSenders(t *testing.T) {
	c, path, _ := start(t)
	const senders, each = 8, 50
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			conn, err := net.DialUDP("udp", nil, c.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for i := range each {
				// A large metadata value makes torn writes visible.
				doc := fmt.Sprintf(`{"id":"%d-%d","trace_id":"1-5759e988-bd862e3fe1be46a994272793","metadata":{"pad":%q}}`, s, i, strings.Repeat("x", 4000))
				if _, err := conn.Write([]byte(daemonHeader + doc)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	lines := waitLines(t, path, senders*each)
	seen := map[string]bool{}
	for _, l := range lines {
		var doc struct{ ID string }
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("torn line %.80q: %v", l, err)
		}
		seen[doc.ID] = true
	}
	if len(seen) != senders*each {
		t.Errorf("%d distinct documents, want %d", len(seen), senders*each)
	}
}

// A stop (SIGTERM, through the context) ends serve cleanly, with the file
// closed and what was written kept; the port is free again.
func TestStopIsClean(t *testing.T) {
	c, path, stop := start(t)
	addr := c.Addr()
	send(t, addr, daemonHeader+segment("before-stop"))
	waitLines(t, path, 1)
	if err := stop(); err != nil {
		t.Fatalf("serve after the stop: %v", err)
	}
	if _, err := c.out.Write([]byte("x")); err == nil {
		t.Error("the file is still open after the stop")
	}
	again, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Fatalf("the port is still held after the stop: %v", err)
	}
	again.Close()
	if lines := readLines(t, path); len(lines) != 1 {
		t.Errorf("after the stop the file holds %d lines, want 1", len(lines))
	}
}

// run: the flags, the file appended to (a restarted collector keeps the
// traces of the emulator's earlier life), the log lines.
func TestRunAppendsAndReports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "traces.jsonl")
	if err := os.WriteFile(path, []byte(segment("old")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port: listen, note it, close.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().(*net.UDPAddr)
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", addr.String(), "-out", path}, &logs) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "listening") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	send(t, addr, "junk", daemonHeader+segment("new")) // in order: the junk is handled first
	waitLines(t, path, 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"listening on udp " + addr.String(), "writing " + path, "1 documents written", "rejected a datagram (no header line)"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if err := run(context.Background(), []string{"extra"}, &logs); err == nil {
		t.Error("run accepted a stray argument")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
