package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// span is the part of an X-Ray document (shared/tracing's, as the local
// collector stores them: localstack/xray) the cost section reads.
type span struct {
	Name       string  `json:"name"`
	ID         string  `json:"id"`
	TraceID    string  `json:"trace_id"`
	ParentID   string  `json:"parent_id"`
	Namespace  string  `json:"namespace"`
	Start      float64 `json:"start_time"`
	End        float64 `json:"end_time"`
	InProgress bool    `json:"in_progress"`
	HTTP       struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"http"`
	AWS         map[string]any `json:"aws"`
	Annotations map[string]any `json:"annotations"`
}

// invocation reports a function invocation's span: shared/tracing
// annotates every one (and only those) with its service.
func (s span) invocation() bool { return s.Annotations["service"] != nil }

// localOnly reports an AWS call made for local test machinery only
// (tracing.AWSLocalOnly: the fault switch), which AWS never sees.
func (s span) localOnly() bool { return s.AWS["local_only"] != nil }

func (s span) operation() string { o, _ := s.AWS["operation"].(string); return o }

func (s span) ms() float64 { return (s.End - s.Start) * 1000 }

// readSpans reads the collector's file: one document per line; a span sent
// twice (in progress, then complete) is kept complete. Lines that are no
// document are skipped.
func readSpans(r io.Reader) ([]span, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	byID := map[string]int{}
	var out []span
	for sc.Scan() {
		var s span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil || s.ID == "" || s.TraceID == "" {
			continue
		}
		if i, ok := byID[s.ID]; ok {
			if !s.InProgress || out[i].InProgress {
				out[i] = s
			}
			continue
		}
		byID[s.ID] = len(out)
		out = append(out, s)
	}
	return out, sc.Err()
}

// placementTrace returns the spans of the trace in which orders-create
// placed the order (its invocation annotated orderId), nil if none: the
// order's saga, events and consumers continue that trace (README,
// Observability); later calls about the order are traces of their own.
func placementTrace(spans []span, orderID string) []span {
	trace := ""
	for _, s := range spans {
		if s.invocation() && s.Name == "orders-create" && s.Annotations["orderId"] == orderID {
			trace = s.TraceID
		}
	}
	if trace == "" {
		return nil
	}
	var out []span
	for _, s := range spans {
		if s.TraceID == trace {
			out = append(out, s)
		}
	}
	return out
}

// usage is what one order made the stack do, from its placement trace.
type usage struct {
	Invocations map[string]int     `json:"invocations"` // function -> invocations
	DurationMs  map[string]float64 `json:"durationMs"`  // function -> billed ms (each rounded up to 1 ms)
	Calls       map[string]int     `json:"calls"`       // "DynamoDB GetItem" -> requests (local-only calls left out)
	LocalOnly   int                `json:"localOnly"`   // fault-switch reads left out
}

func newUsage() usage {
	return usage{Invocations: map[string]int{}, DurationMs: map[string]float64{}, Calls: map[string]int{}}
}

// usageOf counts a trace's invocations and AWS calls, leaving out the
// functions outside says are no part of the shop, and their calls.
func usageOf(trace []span, outside func(function string) bool) usage {
	u := newUsage()
	byID := map[string]span{}
	for _, s := range trace {
		byID[s.ID] = s
	}
	// invoker is the function whose invocation made the call s.
	invoker := func(s span) string { return invokerOf(byID, s).Name }
	for _, s := range trace {
		switch {
		case s.invocation():
			if !outside(s.Name) {
				u.Invocations[s.Name]++
				u.DurationMs[s.Name] += ceilMs(s.ms())
			}
		case s.Namespace != "aws" || outside(invoker(s)):
		case s.localOnly():
			u.LocalOnly++
		default:
			u.Calls[s.Name+" "+s.operation()]++
		}
	}
	return u
}

// invokerOf is the invocation span whose function made the call s (the
// first invocation above it), or a zero span. At most len(byID) steps up:
// a cycle of parent ids in a malformed file must not hang the run.
func invokerOf(byID map[string]span, s span) span {
	p, ok := byID[s.ParentID]
	for range len(byID) {
		if !ok {
			break
		}
		if p.invocation() {
			return p
		}
		p, ok = byID[p.ParentID]
	}
	return span{}
}

func ceilMs(ms float64) float64 {
	c := float64(int64(ms))
	if c < ms {
		c++
	}
	return c
}

// step is one call on the critical path of a request: the calls the
// invocation made itself (not those of the functions it called), the
// ones it waited for in turn.
type step struct {
	Call     string   `json:"call"`
	Ms       float64  `json:"ms"`
	Parallel []string `json:"parallel,omitempty"` // calls that overlapped it
}

// ownCalls are the AWS and HTTP calls the invocation inv made itself (the
// first invocation above them is inv), the fault switch's reads left out,
// in the order they ended.
func ownCalls(trace []span, inv span) []span {
	byID := map[string]span{}
	for _, s := range trace {
		byID[s.ID] = s
	}
	own := func(s span) bool {
		return invokerOf(byID, s).ID == inv.ID && inv.ID != ""
	}
	var calls []span
	for _, s := range trace {
		if (s.Namespace == "aws" && !s.localOnly() || s.Namespace == "remote") && own(s) {
			calls = append(calls, s)
		}
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].End < calls[j].End })
	return calls
}

// phases groups the invocation's calls into sequential round trips: calls
// that overlap (directly or through another) ran side by side and are one
// phase; a phase begins only after the one before has ended. This is the
// lower bound of the round trips the request waited for (a chain inside a
// phase, such as a breaker read before its HTTP call, is hidden in it);
// longestChain is the upper bound.
func phases(trace []span, inv span) [][]string {
	calls := ownCalls(trace, inv)
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].Start < calls[j].Start })
	var out [][]string
	end := 0.0
	for _, c := range calls {
		if len(out) == 0 || c.Start >= end {
			out = append(out, nil)
			end = c.End
		}
		out[len(out)-1] = append(out[len(out)-1], describeCall(c))
		end = max(end, c.End)
	}
	return out
}

// longestChain returns the longest chain of calls inv made one after
// another (each starting after the previous ended), with the calls that
// overlapped each step. Calls of two parallel branches that happen not to
// overlap join one chain, so this is an upper bound of the round trips
// the request waited for; phases is the lower bound.
func longestChain(trace []span, inv span) []step {
	calls := ownCalls(trace, inv)
	chain := make([]int, len(calls))
	prev := make([]int, len(calls))
	best := -1
	for i, c := range calls {
		chain[i], prev[i] = 1, -1
		for j := range i {
			if calls[j].End <= c.Start && chain[j]+1 >= chain[i] { // ties: the later predecessor, the one it waited for
				chain[i], prev[i] = chain[j]+1, j
			}
		}
		if best < 0 || chain[i] > chain[best] || chain[i] == chain[best] && c.End > calls[best].End {
			best = i
		}
	}
	var path []int
	for i := best; i >= 0; i = prev[i] {
		path = append(path, i)
	}
	slices.Reverse(path)
	steps := make([]step, 0, len(path))
	for _, i := range path {
		c := calls[i]
		st := step{Call: describeCall(c), Ms: c.ms()}
		for j, o := range calls {
			if j != i && !slices.Contains(path, j) && o.Start < c.End && c.Start < o.End {
				st.Parallel = append(st.Parallel, describeCall(o))
			}
		}
		steps = append(steps, st)
	}
	return steps
}

func describeCall(s span) string {
	if s.Namespace == "remote" {
		return fmt.Sprintf("HTTP %s %s", s.HTTP.Request.Method, s.Name)
	}
	d := s.Name + " " + s.operation()
	if t, ok := s.AWS["table_name"].(string); ok {
		d += " " + t
	} else if ts, ok := s.AWS["table_names"].([]any); ok {
		var names []string
		for _, t := range ts {
			names = append(names, fmt.Sprint(t))
		}
		d += " " + strings.Join(names, ",")
	}
	return d
}
