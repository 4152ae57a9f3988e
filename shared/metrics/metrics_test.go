package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/metrics/emftest"
)

var fixed = func() time.Time { return time.UnixMilli(1767225600123) }

// lines validates every line of buf against the EMF specification and
// returns the metrics they publish.
func lines(t *testing.T, buf *bytes.Buffer) [][]emftest.Metric {
	t.Helper()
	var out [][]emftest.Metric
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !emftest.IsEMF([]byte(l)) {
			t.Fatalf("not an EMF line: %s", l)
		}
		ms, err := emftest.Validate([]byte(l))
		if err != nil {
			t.Fatalf("line against the EMF specification: %v\n%s", err, l)
		}
		out = append(out, ms)
	}
	return out
}

func TestEmitWritesOneValidLine(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, "orders", "orders-mark-cancelled", fixed)
	w.Count(OrdersCancelled, 1, Dim(DimReason, "OUT_OF_STOCK"))
	want := `{"_aws":{"Timestamp":1767225600123,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["service","function","reason"]],` +
		`"Metrics":[{"Name":"OrdersCancelled","Unit":"Count"}]}]},"service":"orders","function":"orders-mark-cancelled","reason":"OUT_OF_STOCK","OrdersCancelled":1}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	ms := lines(t, &buf)[0]
	if len(ms) != 1 || ms[0].Namespace != "shop" || ms[0].Dimensions["reason"] != "OUT_OF_STOCK" || ms[0].Values[0] != 1 {
		t.Fatalf("metrics %+v", ms)
	}
}

func TestEmitEdgeCases(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, "", "f", fixed)
	w.Emit(nil)
	w.Emit([]Value{{Name: Latency, Unit: UnitMilliseconds, Value: math.NaN()}})
	if buf.Len() != 0 {
		t.Fatalf("wrote %q for nothing to write", buf.String())
	}
	// A value needing escapes, a dimension without a value, a value without a unit.
	w.Emit([]Value{{Name: Revenue, Unit: UnitNone, Value: 1999}, {Name: "Odd", Value: 0.25}}, Dim(DimCurrency, `E"U\R`), Dim(DimState, ""))
	ms := lines(t, &buf)[0]
	if len(ms) != 2 || ms[0].Dimensions[DimCurrency] != `E"U\R` || ms[1].Unit != "None" || ms[1].Values[0] != 0.25 {
		t.Fatalf("metrics %+v", ms)
	}
	if _, ok := ms[0].Dimensions[DimService]; ok {
		t.Fatal("an empty service became a dimension")
	}
}

func TestInvocationLine(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, "users", "users-get", nil)
	inv := Begin(true)
	time.Sleep(2 * time.Millisecond)
	inv.EndTo(w, 1)
	got := map[string]emftest.Metric{}
	for _, m := range lines(t, &buf)[0] {
		got[m.Name] = m
	}
	if got[Invocations].Values[0] != 1 || got[Errors].Values[0] != 1 || got[ColdStarts].Values[0] != 1 ||
		got[Latency].Values[0] < 2 || got[Latency].Unit != "Milliseconds" || got[Invocations].Unit != "Count" {
		t.Fatalf("metrics %+v", got)
	}
	if got[Latency].Dimensions[DimFunction] != "users-get" || got[Latency].Dimensions[DimService] != "users" {
		t.Fatalf("dimensions %+v", got[Latency].Dimensions)
	}
}

// The schema rejects what the specification forbids, and Validate what a
// schema cannot express.
func TestValidatorRejects(t *testing.T) {
	bad := map[string]string{
		"no _aws":            `{"Latency":1}`,
		"no timestamp":       `{"_aws":{"CloudWatchMetrics":[]}}`,
		"string timestamp":   `{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}`,
		"unknown unit":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"L","Unit":"ms"}]}]},"L":1}`,
		"extra member":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"L","Value":1}]}]},"L":1}`,
		"no namespace":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"L"}]}]},"L":1}`,
		"missing target":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"L"}]}]}}`,
		"string metric":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"L"}]}]},"L":"1"}`,
		"numeric dimension":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["d"]],"Metrics":[{"Name":"L"}]}]},"L":1,"d":2}`,
		"missing dimension":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["d"]],"Metrics":[{"Name":"L"}]}]},"L":1}`,
		"bad resolution":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"L","StorageResolution":5}]}]},"L":1}`,
		"31 dimension keys":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[` + strings.Repeat(`"d",`, 30) + `"d"]],"Metrics":[{"Name":"L"}]}]},"L":1,"d":"x"}`,
		"not an object root": `[1]`,
	}
	for name, doc := range bad {
		if _, err := emftest.Validate([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	good := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["d"]],"Metrics":[{"Name":"L","Unit":"Count/Second","StorageResolution":60}]}]},"L":[1,2],"d":"x","other":{"any":true}}`
	if _, err := emftest.Validate([]byte(good)); err != nil {
		t.Errorf("rejected %s: %v", good, err)
	}
}

// appendString's fast path writes what encoding/json writes, and every
// string that needs escaping still goes through encoding/json.
func TestAppendStringMatchesJSON(t *testing.T) {
	for _, s := range []string{
		"", "Invocations", "shop-orders-create", "orders", "Milliseconds",
		`quo"te`, `back\\slash`, "tab\there", "new\nline", "<html>&", "caf\u00e9", "\u2028", "\x7f", "bad\xffutf8",
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendString(%q) = %s, want x%s", s, got, want)
		}
	}
}
