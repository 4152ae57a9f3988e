package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// message is one arrow (or note) of the sequence diagram, at the time it
// happened.
type message struct {
	at   float64
	ret  bool // a response or outcome: at the same time, responses come before calls
	seq  int  // depth-first order: calls in it, responses against it
	from string
	to   string
	text string
	note bool // an outcome shown over to (nobody waits for the response)
	wait bool // the caller waits for the response (->>), else asynchronous (-))
}

// writeSequence prints t as a Mermaid sequence diagram, in a fenced block
// (GitHub and most Markdown viewers draw it): the client, each function
// and each AWS service or HTTP dependency are participants; every
// invocation and call is a message, named for what it asked, answered by
// its outcome. Step Functions invokes the saga's steps and waits for them;
// EventBridge delivers events to the consumers, and a relay publishes its
// producer's events, without anybody waiting: those show their outcome as
// a note.
func writeSequence(w io.Writer, t trace) {
	var msgs []message
	seq := 0
	add := func(n *node, from, to, call, answer string, wait bool) {
		seq++
		msgs = append(msgs, message{at: n.doc.StartTime, seq: seq, from: from, to: to, text: call, wait: wait})
		msgs = append(msgs, message{at: n.doc.EndTime, ret: true, seq: -seq, from: to, to: from, text: answer, note: !wait, wait: wait})
	}
	// visit draws n, a span of the function caller ("Client" for a root)
	// whose parent is parent, reached through via (the AWS or HTTP call
	// that led to it, if any).
	var visit func(n, parent *node, caller string, via *node)
	visit = func(n, parent *node, caller string, via *node) {
		d := n.doc
		switch d.kind() {
		case kindFunction:
			from, call, wait := invoker(n, parent, caller, via)
			add(n, from, d.Name, call, answer(d), wait)
			for _, c := range n.children {
				visit(c, n, d.Name, nil)
			}
		case kindAWS, kindHTTP:
			if d.kind() == kindHTTP && slices.ContainsFunc(n.children, func(c *node) bool { return c.doc.kind() == kindFunction }) {
				// The callee traced its side: one arrow to it, not two.
				for _, c := range n.children {
					visit(c, n, caller, n)
				}
				return
			}
			call := d.AWS.Operation
			if d.kind() == kindHTTP {
				call = d.HTTP.Request.Method + " " + d.HTTP.Request.URL
			}
			add(n, caller, d.Name, call, answer(d), true)
			for _, c := range n.children {
				visit(c, n, caller, n)
			}
		default:
			for _, c := range n.children {
				visit(c, n, caller, nil)
			}
		}
	}
	for _, r := range tree(t) {
		visit(r, nil, "Client", nil)
	}
	slices.SortStableFunc(msgs, func(a, b message) int {
		return cmp.Or(cmpFloat(a.at, b.at), cmpBool(b.ret, a.ret), cmp.Compare(a.seq, b.seq))
	})

	fmt.Fprintln(w, "```mermaid")
	fmt.Fprintln(w, "sequenceDiagram")
	declared := map[string]bool{}
	declare := func(p string) {
		if declared[p] {
			return
		}
		declared[p] = true
		if p == "Client" {
			fmt.Fprintln(w, "    actor Client")
			return
		}
		if id := participantID(p); id != p {
			fmt.Fprintf(w, "    participant %s as %s\n", id, mermaidText(p))
		} else {
			fmt.Fprintf(w, "    participant %s\n", p)
		}
	}
	for _, m := range msgs {
		declare(m.from)
		declare(m.to)
	}
	for _, m := range msgs {
		switch {
		case m.note:
			fmt.Fprintf(w, "    Note over %s: %s\n", participantID(m.from), mermaidText(m.text))
		case m.ret:
			fmt.Fprintf(w, "    %s-->>%s: %s\n", participantID(m.from), participantID(m.to), mermaidText(m.text))
		case m.wait:
			fmt.Fprintf(w, "    %s->>%s: %s\n", participantID(m.from), participantID(m.to), mermaidText(m.text))
		default:
			fmt.Fprintf(w, "    %s-)%s: %s\n", participantID(m.from), participantID(m.to), mermaidText(m.text))
		}
	}
	fmt.Fprintln(w, "```")
}

// invoker is who invoked function span n, child of parent in the function
// caller's span, reached through via: the message's sender, what it asked
// and whether it waited for the answer.
//
// Through an HTTP call: the caller, with the request, waiting. Through an
// AWS call (EventBridge's PutEvents when the consumer continues the SQS
// message's AWSTraceHeader, Step Functions on AWS): that service. Directly
// under another function's span, the platform dropped the trace and the
// span continued the one its input carried: an event's span (eventType)
// that publishes is a relay, reading its producer's outbox; one that does
// not is a consumer, which EventBridge delivered to; any other is a saga
// step when its parent started an execution (the execution input carries
// that span's trace), and Step Functions waits for it.
func invoker(n, parent *node, caller string, via *node) (from, call string, wait bool) {
	d := n.doc
	call = invocation(d)
	switch {
	case via != nil && via.doc.kind() == kindHTTP:
		return caller, via.doc.HTTP.Request.Method + " " + route(via.doc.HTTP.Request.URL), true
	case via != nil:
		return via.doc.Name, call, via.doc.Name == "SFN" || via.doc.Name == "Lambda"
	case parent == nil:
		return caller, call, true
	case d.annotation("eventType") != "":
		if hasChild(n, func(c *document) bool { return c.Name == "EventBridge" && c.AWS.Operation == "PutEvents" }) {
			return caller, call + " (outbox)", false
		}
		return "EventBridge", call, false
	case hasChild(parent, func(c *document) bool { return c.Name == "SFN" && c.AWS.Operation == "StartExecution" }):
		return "SFN", call, true
	}
	return caller, call, false
}

func hasChild(n *node, match func(*document) bool) bool {
	return slices.ContainsFunc(n.children, func(c *node) bool { return c.doc.kind() == kindAWS && match(c.doc) })
}

// invocation names what a function was asked: its route, the event it
// handles, or just an invocation (a saga step).
func invocation(d *document) string {
	switch {
	case d.HTTP.Request.Method != "":
		return d.HTTP.Request.Method + " " + route(d.HTTP.Request.URL)
	case d.annotation("eventType") != "":
		return d.annotation("eventType")
	}
	return "invoke"
}

// answer is a response's text: the HTTP status, if any, the outcome, the
// time taken and the cause.
func answer(d *document) string {
	word, why := result(d)
	s := word
	if d.HTTP.Response.Status != 0 {
		s = fmt.Sprintf("%d %s", d.HTTP.Response.Status, s)
	}
	if !d.InProgress && d.EndTime != 0 {
		s += fmt.Sprintf(" (%.1f ms)", ms(d.EndTime-d.StartTime))
	}
	if why != "" {
		s += ": " + why
	}
	return s
}

// maxLabel bounds a message's text: a diagram is read at a glance; the
// journey above it has the whole cause.
const maxLabel = 100

// participantID is p as a Mermaid identifier: letters, digits and _
// (orders-create would read as an arrow).
func participantID(p string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, p)
}

// mermaidText keeps a label on one line and clear of what Mermaid reads
// as syntax (; ends a statement, # starts an entity).
func mermaidText(s string) string {
	s = strings.NewReplacer(";", ",", "#", "", "\n", " ", "\r", " ").Replace(s)
	if r := []rune(s); len(r) > maxLabel {
		s = string(r[:maxLabel-3]) + "..."
	}
	return s
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
