package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// kind is what a span stands for.
type kind int

const (
	kindFunction kind = iota // an invocation of a function: a segment, or its span under Lambda's own segment
	kindAWS                  // a call to an AWS service (namespace aws)
	kindHTTP                 // a call to another service over HTTP (namespace remote)
	kindLocal                // local work inside a function
)

func (d *document) kind() kind {
	switch {
	case d.Namespace == "aws":
		return kindAWS
	case d.Namespace == "remote":
		return kindHTTP
	case d.Type != "subsegment" || d.annotation("service") != "":
		// A function's span is a segment, except on Lambda when the
		// invocation starts a trace: then it is a subsegment of Lambda's
		// own segment, which only AWS sends (the emulator sends none).
		return kindFunction
	case d.AWS.Operation != "":
		return kindAWS
	case d.HTTP.Request.Method != "":
		return kindHTTP
	}
	return kindLocal
}

// node is a document in its trace's tree.
type node struct {
	doc      *document
	children []*node
}

// tree arranges the trace's documents by parent_id. A document whose
// parent is not in the trace is a root: the first invocation's parent is
// Lambda's own segment, which the emulator does not send. Siblings are in
// start order (the longer first when two start together). Documents
// arrive in any order (a span is sent when it ends, so children come
// before their parents); the tree does not depend on it.
func tree(t trace) []*node {
	nodes := make(map[string]*node, len(t.Docs))
	for i := range t.Docs {
		nodes[t.Docs[i].ID] = &node{doc: &t.Docs[i]}
	}
	var roots []*node
	for i := range t.Docs {
		n := nodes[t.Docs[i].ID]
		if p, ok := nodes[n.doc.ParentID]; ok && p != n {
			p.children = append(p.children, n)
		} else {
			roots = append(roots, n)
		}
	}
	var order func([]*node)
	order = func(ns []*node) {
		slices.SortStableFunc(ns, func(a, b *node) int {
			return cmp.Or(cmpFloat(a.doc.StartTime, b.doc.StartTime), cmpFloat(b.doc.EndTime, a.doc.EndTime),
				strings.Compare(a.doc.Name, b.doc.Name), strings.Compare(a.doc.ID, b.doc.ID))
		})
		for _, n := range ns {
			order(n.children)
		}
	}
	order(roots)
	return roots
}

// walk visits the tree depth first, in start order.
func walk(ns []*node, depth int, visit func(n *node, depth int)) {
	for _, n := range ns {
		visit(n, depth)
		walk(n.children, depth+1, visit)
	}
}

// ms is a span of seconds in milliseconds.
func ms(seconds float64) float64 { return math.Round(seconds*1e4) / 10 }

// writeJourney prints trace t as an indented tree, one span a line:
// offset from the trace's start and duration in ms, the span, what it is,
// its outcome and its annotations.
func writeJourney(w io.Writer, t trace, order string, i, n int) {
	end := t.Start
	for _, d := range t.Docs {
		end = max(end, d.EndTime)
	}
	began := time.UnixMicro(int64(math.Round(t.Start * 1e6))).UTC().Format("2006-01-02T15:04:05.000Z")
	fmt.Fprintf(w, "order %s, trace %d of %d: %s, %d spans over %.1f ms from %s\n", order, i, n, t.ID, len(t.Docs), ms(end-t.Start), began)

	roots := tree(t)
	width := 0
	walk(roots, 0, func(n *node, depth int) { width = max(width, 2*depth+len(n.doc.Name)) })
	fmt.Fprintf(w, "%10s %10s  %-*s  %s\n", "offset ms", "took ms", width, "span", "kind, outcome, annotations")
	walk(roots, 0, func(n *node, depth int) {
		d := n.doc
		took := fmt.Sprintf("%10.1f", ms(d.EndTime-d.StartTime))
		if d.InProgress || d.EndTime == 0 {
			took = fmt.Sprintf("%10s", "running")
		}
		parts := []string{describe(d), outcome(d)}
		if a := annotations(d, order); a != "" {
			parts = append(parts, a)
		}
		fmt.Fprintf(w, "%10.1f %s  %-*s  %s\n", ms(d.StartTime-t.Start), took, width, strings.Repeat("  ", depth)+d.Name, strings.Join(parts, ", "))
	})
}

// describe says what a span is: "function POST /v1/orders -> 201", "AWS
// DynamoDB TransactWriteItems shop-orders", "HTTP GET http://.../v1/users/u1 -> 200".
func describe(d *document) string {
	switch d.kind() {
	case kindFunction:
		if d.HTTP.Request.Method != "" {
			return "function " + d.HTTP.Request.Method + " " + route(d.HTTP.Request.URL) + status(d)
		}
		return "function"
	case kindAWS:
		s := "AWS " + d.Name
		if d.AWS.Operation != "" {
			s += " " + d.AWS.Operation
		}
		if d.AWS.TableName != "" {
			s += " " + d.AWS.TableName
		}
		if len(d.AWS.TableNames) > 0 {
			s += " " + strings.Join(d.AWS.TableNames, ",")
		}
		return s
	case kindHTTP:
		return "HTTP " + d.HTTP.Request.Method + " " + d.HTTP.Request.URL + status(d)
	}
	return "local"
}

func status(d *document) string {
	if d.HTTP.Response.Status == 0 {
		return ""
	}
	return fmt.Sprintf(" -> %d", d.HTTP.Response.Status)
}

// route is a request URL's path on the API: the emulator's path-style
// prefix (/_aws/execute-api/<api>/<stage>) left out.
func route(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return raw
	}
	p := u.Path
	if rest, ok := strings.CutPrefix(p, "/_aws/execute-api/"); ok {
		if parts := strings.SplitN(rest, "/", 3); len(parts) == 3 {
			p = "/" + parts[2]
		}
	}
	return p
}

// outcome is ok, or fault, throttle or error with the cause's message.
func outcome(d *document) string {
	word, why := result(d)
	if why != "" {
		return word + " (" + why + ")"
	}
	return word
}

// result is the span's outcome (ok, in progress, fault, throttle, error)
// and the cause's message, if any.
func result(d *document) (word, why string) {
	switch {
	case d.InProgress:
		return "in progress", ""
	case d.Fault:
		word = "fault"
	case d.Throttle:
		word = "throttle"
	case d.Error:
		word = "error"
	default:
		return "ok", ""
	}
	return word, d.Cause.message()
}

// annotations are the span's annotations as key=value, but service (the
// span's name says it) and the orderId the journey is about.
func annotations(d *document, order string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(d.Annotations)) {
		v := d.annotation(k)
		if k == "service" || k == "orderId" && v == order {
			continue
		}
		kv = append(kv, k+"="+v)
	}
	return strings.Join(kv, " ")
}
