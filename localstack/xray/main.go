// Command xray is the local stack's stand-in for the AWS X-Ray daemon: it
// receives the segment documents the functions send (shared/tracing, one
// UDP datagram per span, to AWS_XRAY_DAEMON_ADDRESS) and appends each, as
// one JSON line, to a file that `make trace` and the end-to-end tests read.
// There is nothing to forward them to: MiniStack has no X-Ray API.
//
//	xray -addr 127.0.0.1:4566 -out .local/traces.jsonl
//
// localstack/ministack.sh starts it next to MiniStack, on the emulator's
// port number (UDP and TCP ports do not clash), and stops it with it.
//
// A datagram is what the X-Ray daemon accepts: the header
// {"format":"json","version":1}, a newline, and one segment or independent
// subsegment document. Anything else is counted and dropped, never written:
// the file holds documents only. Each line is written with one write(2) on
// a file opened O_APPEND, unbuffered, so a reader sees a span as soon as
// its datagram has arrived, and concurrent datagrams never interleave.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// maxDatagram is the largest UDP payload; the X-Ray daemon's limit is the
// same (the SDKs split anything bigger into subsegments).
const maxDatagram = 64 * 1024

// readBuffer asks the kernel for room to queue a burst of datagrams (a
// saga's steps end within milliseconds of each other) while one is
// written.
const readBuffer = 4 << 20

// header is the only datagram header the X-Ray daemon accepts.
type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "xray:", err)
		os.Exit(1)
	}
}

// run listens and collects until ctx is done (SIGTERM, SIGINT).
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("xray", flag.ContinueOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "127.0.0.1:2000", "UDP address to listen on (the daemon's default is 127.0.0.1:2000)")
	out := fs.String("out", "traces.jsonl", "file to append one JSON line per segment document to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c, err := listen(*addr, *out, logw)
	if err != nil {
		return err
	}
	fmt.Fprintf(logw, "xray: listening on udp %s, writing %s\n", c.Addr(), *out)
	err = c.serve(ctx)
	s := c.stats()
	fmt.Fprintf(logw, "xray: stopped: %d documents written, %d datagrams rejected\n", s.written, s.rejected)
	return err
}

// collector reads datagrams from conn and appends their documents to out.
type collector struct {
	conn *net.UDPConn
	out  *os.File
	logw io.Writer

	mu       sync.Mutex // guards the counters and serialises writes to out
	written  int
	rejected int
}

// listen opens the file (created if missing, appended to) and the UDP
// socket.
func listen(addr, path string, logw io.Writer) (*collector, error) {
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	_ = conn.SetReadBuffer(readBuffer) // best effort: the kernel caps it
	return &collector{conn: conn, out: out, logw: logw}, nil
}

// Addr is the address the collector listens on (its port when :0 was asked).
func (c *collector) Addr() *net.UDPAddr { return c.conn.LocalAddr().(*net.UDPAddr) }

// serve reads datagrams until ctx is done, then closes the socket and the
// file. A datagram is handled before the next is read, so the file's order
// is the order of arrival.
func (c *collector) serve(ctx context.Context) error {
	stopped := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stopped()
	defer c.out.Close()
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil // closed by the stop
			}
			c.conn.Close()
			return fmt.Errorf("read: %w", err)
		}
		if err := c.handle(buf[:n]); err != nil {
			c.conn.Close()
			return err
		}
	}
}

// handle writes the datagram's document as one line, or counts it as
// rejected. Only a failed write is an error: the file is the collector's
// whole purpose.
func (c *collector) handle(datagram []byte) error {
	line, reason := document(datagram)
	c.mu.Lock()
	defer c.mu.Unlock()
	if reason != "" {
		c.rejected++
		// The first few say why; after that a sender is known to be broken.
		if c.rejected <= 5 {
			fmt.Fprintf(c.logw, "xray: rejected a datagram (%s)\n", reason)
		}
		return nil
	}
	if _, err := c.out.Write(line); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	c.written++
	return nil
}

// document is the datagram's segment document compacted to one line with a
// trailing newline, or why it is not one.
func document(datagram []byte) (line []byte, reason string) {
	head, body, ok := bytes.Cut(datagram, []byte("\n"))
	if !ok {
		return nil, "no header line"
	}
	var h header
	if err := json.Unmarshal(head, &h); err != nil || h.Format != "json" || h.Version != 1 {
		return nil, fmt.Sprintf("header %.60q is not {\"format\":\"json\",\"version\":1}", head)
	}
	var doc struct {
		ID      string `json:"id"`
		TraceID string `json:"trace_id"`
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &doc) != nil {
		return nil, "the document is not a JSON object"
	}
	if doc.ID == "" || doc.TraceID == "" {
		return nil, "the document has no id or trace_id"
	}
	var b bytes.Buffer
	b.Grow(len(body) + 1)
	if err := json.Compact(&b, body); err != nil {
		return nil, "the document is not JSON"
	}
	b.WriteByte('\n')
	return b.Bytes(), ""
}

type stats struct{ written, rejected int }

func (c *collector) stats() stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stats{c.written, c.rejected}
}
