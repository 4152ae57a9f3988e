package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// document is the part of an X-Ray segment document (a segment, or an
// independent subsegment: "type":"subsegment", with trace_id and
// parent_id) that a journey shows.
type document struct {
	Name       string  `json:"name"`
	ID         string  `json:"id"`
	TraceID    string  `json:"trace_id"`
	ParentID   string  `json:"parent_id"`
	Type       string  `json:"type"`
	Namespace  string  `json:"namespace"`
	Origin     string  `json:"origin"`
	StartTime  float64 `json:"start_time"`
	EndTime    float64 `json:"end_time"`
	InProgress bool    `json:"in_progress"`
	Error      bool    `json:"error"`
	Fault      bool    `json:"fault"`
	Throttle   bool    `json:"throttle"`
	Cause      cause   `json:"cause"`
	HTTP       struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	} `json:"http"`
	AWS struct {
		Operation  string   `json:"operation"`
		TableName  string   `json:"table_name"`
		TableNames []string `json:"table_names"` // batch and transaction calls
		QueueURL   string   `json:"queue_url"`
	} `json:"aws"`
	Annotations map[string]any `json:"annotations"`
	// Subsegments embedded in their parent (what the X-Ray SDKs send when
	// a segment is small enough); shared/tracing sends each on its own,
	// but a journey reads both.
	Subsegments []document `json:"subsegments"`
}

// cause is a document's cause: an object with exceptions, or (when the
// exception was recorded on another document) that exception's id.
type cause struct {
	Exceptions []struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"exceptions"`
}

func (c *cause) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return nil // an exception id: nothing to show
	}
	type plain cause
	return json.Unmarshal(b, (*plain)(c))
}

// message is the first exception's message (with its type), or "".
func (c cause) message() string {
	if len(c.Exceptions) == 0 {
		return ""
	}
	e := c.Exceptions[0]
	switch {
	case e.Type == "":
		return e.Message
	case e.Message == "":
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// annotation is the document's annotation key as text ("" when absent).
func (d *document) annotation(key string) string {
	v, ok := d.Annotations[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// readDocuments reads one document per line; a line that is no document
// (torn, empty, without ids) is counted, not fatal. Subsegments embedded
// in a document become documents of their own, children of it. When a
// span was sent twice (in progress, then complete), the complete one wins.
func readDocuments(r io.Reader) (docs []document, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	byID := map[string]int{}
	var add func(d document)
	add = func(d document) {
		embedded := d.Subsegments
		d.Subsegments = nil
		if i, seen := byID[d.ID]; seen {
			if !d.InProgress || docs[i].InProgress {
				docs[i] = d
			}
		} else {
			byID[d.ID] = len(docs)
			docs = append(docs, d)
		}
		for _, sub := range embedded {
			sub.TraceID = d.TraceID
			sub.ParentID = d.ID
			if sub.ID != "" {
				add(sub)
			}
		}
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var d document
		if line == "" || json.Unmarshal([]byte(line), &d) != nil || d.ID == "" || d.TraceID == "" {
			skipped++
			continue
		}
		add(d)
	}
	return docs, skipped, sc.Err()
}

// trace is one trace's documents.
type trace struct {
	ID    string
	Docs  []document
	Start float64 // the earliest start_time: offsets count from it
}

// orderTraces are the traces with a document annotated orderId=order, in
// the order they began.
func orderTraces(docs []document, order string) []trace {
	byTrace := map[string][]document{}
	matched := map[string]bool{}
	for _, d := range docs {
		byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
		if d.annotation("orderId") == order {
			matched[d.TraceID] = true
		}
	}
	var traces []trace
	for _, id := range slices.Sorted(maps.Keys(matched)) {
		t := trace{ID: id, Docs: byTrace[id]}
		t.Start = t.Docs[0].StartTime
		for _, d := range t.Docs {
			t.Start = min(t.Start, d.StartTime)
		}
		traces = append(traces, t)
	}
	slices.SortStableFunc(traces, func(a, b trace) int { return cmpFloat(a.Start, b.Start) })
	return traces
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
