package tests

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
)

// The checks themselves, on made-up lines: a secret found is named with its
// function and kind, never shown; an invalid EMF line and a missing metric
// fail.
func TestLogChecksFindWhatTheyLookFor(t *testing.T) {
	s := &secretSet{values: map[string]string{}}
	s.add("password", "hunter2-hunter2")
	s.add("e-mail address", "ada-123@example.com")
	s.add("password", "short") // too short to search for
	saved := used
	used = s
	defer func() { used = saved }()

	var out bytes.Buffer
	lines := []logLine{
		{function: "users-login", message: `{"msg":"login","email":"a***@example.com"}`},
		{function: "users-register", message: `{"msg":"oops","body":"{\"password\":\"hunter2-hunter2\"}"}`},
	}
	if scanSecrets(&out, lines) {
		t.Fatalf("a password in a line passed: %s", out.String())
	}
	if !strings.Contains(out.String(), "users-register: password in") || strings.Contains(out.String(), "hunter2") {
		t.Errorf("report %s", out.String())
	}
	out.Reset()
	if !scanSecrets(&out, lines[:1]) {
		t.Errorf("a masked address failed: %s", out.String())
	}

	set := &manifest.Set{}
	out.Reset()
	good := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["service","function","reason"]],"Metrics":[{"Name":"OrdersCancelled","Unit":"Count"}]}]},"service":"orders","function":"orders-mark-cancelled","reason":"OUT_OF_STOCK","OrdersCancelled":1}`
	expectMetric("test", "orders-mark-cancelled", "OrdersCancelled", "reason", "OUT_OF_STOCK")
	defer func() {
		expected.Lock()
		delete(expected.m, expectedMetric{function: "orders-mark-cancelled", name: "OrdersCancelled", dims: "reason=OUT_OF_STOCK"})
		expected.Unlock()
	}()
	if !checkEMF(&out, []logLine{{function: "orders-mark-cancelled", message: good}}, set) {
		t.Errorf("a valid line with the expected metric failed: %s", out.String())
	}
	out.Reset()
	if checkEMF(&out, []logLine{{function: "orders-mark-cancelled", message: strings.Replace(good, "OUT_OF_STOCK", "INTERNAL", 1)}}, set) {
		t.Errorf("a missing metric passed: %s", out.String())
	}
	out.Reset()
	bad := strings.Replace(good, `"Unit":"Count"`, `"Unit":"Orders"`, 1)
	if checkEMF(&out, []logLine{{function: "orders-mark-cancelled", message: good}, {function: "orders-mark-cancelled", message: bad}}, set) {
		t.Errorf("an invalid line passed: %s", out.String())
	}
}
