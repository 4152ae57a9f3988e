package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"
)

// What happened to a resource; every progress line ends with one of these.
const (
	statusCreated   = "created"
	statusUpdated   = "updated"
	statusUnchanged = "unchanged"
	statusDeleted   = "deleted"
)

// prefixRE keeps physical names valid for every service they end up in
// (table, role, function and API names).
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// progress prints one aligned line per resource:
//
//	table       shop-users                                  created
//
// and, when timings is set, how long each phase took.
type progress struct {
	mu      sync.Mutex
	out     io.Writer
	timings io.Writer // nil: phase timings are not printed
}

func newProgress(out io.Writer) *progress { return &progress{out: out} }

func (p *progress) report(kind, name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, progressLine(kind, name, status))
}

// progressLine pads the name to the width of a log group's name with the
// default prefix (/aws/lambda/shop-inventory-adjust-stock), and always
// leaves a space before the status, which callers look for.
func progressLine(kind, name, status string) string {
	return fmt.Sprintf("%-12s%-43s %s", kind, name, status)
}

// deferred returns a progress that collects its lines, and a flush that
// writes them to p in one piece: concurrent work reports in a stable order.
func (p *progress) deferred() (*progress, func()) {
	var buf bytes.Buffer
	return &progress{out: &buf}, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.out.Write(buf.Bytes())
	}
}

func (p *progress) phase(name string, took time.Duration) {
	if p.timings == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.timings, "phase %-10s %6.2fs\n", name, took.Seconds())
}
