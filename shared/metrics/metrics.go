// Package metrics publishes the shop's CloudWatch metrics in the embedded
// metric format (EMF): each emission is one JSON line on stdout, which
// CloudWatch Logs turns into metric values (namespace shop, dimensions
// service and function, and the one more some metrics name). Nothing is
// called, no client is made, nothing waits: a line costs what a log line
// costs, and nothing runs at package init (the cold-start budget).
//
//	metrics.Count(metrics.OrdersCancelled, 1, metrics.Dim(metrics.DimReason, "OUT_OF_STOCK"))
//	metrics.Emit([]metrics.Value{{Name: metrics.Latency, Unit: metrics.UnitMilliseconds, Value: ms}})
//
// The service and function dimensions are SHOP_SERVICE and SHOP_FUNCTION,
// read at the first emission, or what Init set before it. The names, units
// and dimensions of every metric are in names.go; the runtime adapters emit
// the invocation metrics (Invocation).
package metrics

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Unit is a CloudWatch unit, as EMF's MetricDefinition names it.
type Unit string

// The units the shop's metrics use (names.go says which has which).
const (
	UnitCount        Unit = "Count"
	UnitMilliseconds Unit = "Milliseconds"
	UnitNone         Unit = "None"
)

// Value is one metric value of an emission.
type Value struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dimension is a dimension beyond service and function (names.go: reason,
// currency, state).
type Dimension struct{ Name, Value string }

// Dim is a Dimension.
func Dim(name, value string) Dimension { return Dimension{Name: name, Value: value} }

// Writer writes EMF lines for one service and function. The zero value is
// not usable: New, or the package's functions, which use the process's.
type Writer struct {
	mu       sync.Mutex
	w        io.Writer
	service  string
	function string
	now      func() time.Time
	buf      []byte
}

// New returns a Writer of lines to w with the given dimensions; now is the
// clock (nil: time.Now).
func New(w io.Writer, service, function string, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{w: w, service: service, function: function, now: now}
}

var (
	defaultOnce sync.Once
	defaultW    *Writer
	initService string
	initFunc    string
	initSet     bool
)

// Init names the process's service and function for the metrics it emits.
// Without it, the first emission reads SHOP_SERVICE and SHOP_FUNCTION. It
// has effect only before the first emission.
func Init(service, function string) {
	initService, initFunc, initSet = service, function, true
}

func process() *Writer {
	defaultOnce.Do(func() {
		service, function := initService, initFunc
		if !initSet {
			service, function = os.Getenv("SHOP_SERVICE"), os.Getenv("SHOP_FUNCTION")
		}
		defaultW = New(os.Stdout, service, function, nil)
	})
	return defaultW
}

// Emit writes one line with values, all with the process's service and
// function and dims as dimensions.
func Emit(values []Value, dims ...Dimension) { process().Emit(values, dims...) }

// Count emits one Count metric.
func Count(name string, n float64, dims ...Dimension) { process().Count(name, n, dims...) }

// Count emits one Count metric.
func (w *Writer) Count(name string, n float64, dims ...Dimension) {
	w.Emit([]Value{{Name: name, Unit: UnitCount, Value: n}}, dims...)
}

// Emit writes one EMF line: _aws.Timestamp (ms), one directive in namespace
// shop with one dimension set (service, function, then dims; a dimension
// without a value is left out, since EMF wants values of 1 to 1024
// characters), each value's definition, then the dimensions' and the
// values' members. Nothing is written without values (a NaN or an
// infinity, which JSON cannot hold, is left out).
func (w *Writer) Emit(values []Value, dims ...Dimension) {
	notJSON := func(v Value) bool { return math.IsNaN(v.Value) || math.IsInf(v.Value, 0) }
	if slices.ContainsFunc(values, notJSON) { // the caller's slice is theirs: copy only to drop
		values = slices.DeleteFunc(slices.Clone(values), notJSON)
	}
	if len(values) == 0 {
		return
	}
	all := make([]Dimension, 0, 2+len(dims))
	for _, d := range append([]Dimension{{DimService, w.service}, {DimFunction, w.function}}, dims...) {
		if d.Value != "" {
			all = append(all, d)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf[:0]
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, w.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendString(b, Namespace)
	b = append(b, `,"Dimensions":[[`...)
	for i, d := range all {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d.Name)
	}
	b = append(b, `]],"Metrics":[`...)
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendString(b, v.Name)
		if v.Unit != "" {
			b = append(b, `,"Unit":`...)
			b = appendString(b, string(v.Unit))
		}
		b = append(b, '}')
	}
	b = append(b, `]}]}`...)
	for _, d := range all {
		b = append(b, ',')
		b = appendString(b, d.Name)
		b = append(b, ':')
		b = appendString(b, d.Value)
	}
	for _, v := range values {
		b = append(b, ',')
		b = appendString(b, v.Name)
		b = append(b, ':')
		b = strconv.AppendFloat(b, v.Value, 'f', -1, 64)
	}
	b = append(b, '}', '\n')
	w.buf = b
	_, _ = w.w.Write(b) // stdout: nothing to do about a failure
}

// appendString appends s as a JSON string. Names, units and dimension
// values are nearly always plain ASCII that needs no escaping, and are
// copied as they are; anything else goes through encoding/json. About 18
// strings make a line, emitted once per invocation: json.Marshal for each
// was a tenth of the shared edge's allocations (BenchmarkEdge).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Redirect sends the process's emissions to w until restore is called: for
// tests of code that emits through the package's functions. Tests that use
// it must not run in parallel with others that emit.
func Redirect(w io.Writer) (restore func()) {
	p := process()
	p.mu.Lock()
	old := p.w
	p.w = w
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.w = old
		p.mu.Unlock()
	}
}
