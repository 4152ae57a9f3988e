package orders

import "testing"

// Every domain error has a distinct name for Step Functions and a 4xx answer.
func TestErrorTable(t *testing.T) {
	if err := errs.Validate(); err != nil {
		t.Fatal(err)
	}
}
