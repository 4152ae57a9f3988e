package errmap

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/shop-serverless/shop/shared/httpapi"
)

var (
	errA = New("ThingNotFound", "thing not found")
	errB = New("ThingTaken", "thing taken")
)

func TestHTTP(t *testing.T) {
	table := Table{
		{Err: errA, Status: http.StatusNotFound, Detail: "no such thing"},
		{Err: errB, Status: http.StatusConflict, Detail: "taken", Field: "name"},
	}
	var he *httpapi.Error
	if err := table.HTTP(fmt.Errorf("get: %w", errB)); !errors.As(err, &he) || he.Status != http.StatusConflict || he.Detail != "taken" || !errors.Is(err, errB) ||
		len(he.Fields) != 1 || he.Fields[0].Field != "name" {
		t.Fatalf("HTTP(wrapped errB) = %v", err)
	}
	other := errors.New("boom")
	if err := table.HTTP(other); err != other {
		t.Fatalf("an unmapped error must pass through unchanged, got %v", err)
	}
	if table.HTTP(nil) != nil {
		t.Fatal("HTTP(nil) != nil")
	}
}

func TestNamesTellSentinelsApart(t *testing.T) {
	if errA.ErrorType() == errB.ErrorType() || errors.Is(errA, errB) {
		t.Fatal("two domain errors must have two names and not match each other")
	}
	var typed interface{ ErrorType() string }
	if err := fmt.Errorf("reserve: %w", errB); !errors.As(err, &typed) || typed.ErrorType() != "ThingTaken" {
		t.Fatal("the name must be found through wrapping")
	}
}

func TestValidate(t *testing.T) {
	good := Table{{Err: errA, Status: 404, Detail: "x"}, {Err: errB, Status: 409, Detail: "y"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]Table{
		"plain sentinel": {{Err: errors.New("x"), Status: 404, Detail: "x"}},
		"wrapped":        {{Err: fmt.Errorf("w: %w", errA), Status: 404, Detail: "x"}},
		"name twice":     {{Err: errA, Status: 404, Detail: "x"}, {Err: New("ThingNotFound", "again"), Status: 404, Detail: "x"}},
		"5xx":            {{Err: errA, Status: 503, Detail: "x"}},
		"no detail":      {{Err: errA, Status: 404}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStatuses(t *testing.T) {
	table := Table{{Err: errA, Status: 404, Detail: "x"}, {Err: errB, Status: 409, Detail: "y"}}
	if got := table.Statuses(errB, errA); len(got) != 2 || got[0] != 409 || got[1] != 404 {
		t.Fatalf("Statuses = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an error outside the table must panic")
		}
	}()
	table.Statuses(New("Other", "other"))
}
