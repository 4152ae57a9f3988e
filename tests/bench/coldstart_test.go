package main

import (
	"strings"
	"testing"
)

// The cold-start budget's "why not" names where the time of the functions
// over the budget goes, from the run's own figures: package init beyond
// hello world's by module, with why each is still paid, and the rest.
func TestWhereItGoes(t *testing.T) {
	hello := coldResult{Function: "hello", BinBytes: 4 << 20, Init: initProfile{TotalMs: 0.6, ByModule: map[string]float64{"runtime": 0.1}}}
	fn := func(name string, over, initOver, dynamo float64) coldResult {
		return coldResult{Function: name, MedianOver: over, InitOver: initOver, BinBytes: 12 << 20,
			Init: initProfile{TotalMs: 0.6 + initOver, ByModule: map[string]float64{"runtime": 0.1, "aws-sdk-go-v2/service/dynamodb": dynamo, "example.com/cheap": 0.01}}}
	}
	d := coldData{BudgetMs: 2.0, Hello: hello, Functions: []coldResult{
		fn("a", 2.6, 1.6, 0.7),
		fn("b", 2.4, 1.2, 0.5),
		fn("under", 1.5, 0.9, 0.6), // within the budget: not counted
	}}
	got := whereItGoes(d)
	for _, want := range []string{
		"medians over those 2 functions",
		"package init 1.40 ms beyond hello world's",
		"aws-sdk-go-v2/service/dynamodb 0.60 ms (in 2 of them): the SDK builds the DynamoDB client's schema registry",
		"and 1.10 ms outside package init",
		"binary 3.0x hello world's size",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("whereItGoes does not say %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "example.com/cheap") {
		t.Errorf("whereItGoes names a module under 0.05 ms:\n%s", got)
	}
	if whereItGoes(coldData{BudgetMs: 2.0, Hello: hello, Functions: []coldResult{fn("under", 1.5, 0.9, 0.6)}}) != "" {
		t.Error("whereItGoes explains a run where every function held the budget")
	}
}
