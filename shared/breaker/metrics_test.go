package breaker

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/metrics/emftest"
)

// Each state the breaker enters is counted once, by the call that saw it.
func TestTransitionsAreCounted(t *testing.T) {
	var buf bytes.Buffer
	defer metrics.Redirect(&buf)()
	b := New(Settings{Name: "users", MinRequests: 2, OpenTimeout: 20 * time.Millisecond}, nil)
	ctx := context.Background()
	_ = b.Execute(ctx, fail)
	_ = b.Execute(ctx, fail) // open
	_ = b.Execute(ctx, succeed)
	time.Sleep(30 * time.Millisecond)
	_ = b.Execute(ctx, succeed) // half-open, then closed

	var states []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		ms, err := emftest.Validate([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		for _, m := range ms {
			if m.Name == metrics.BreakerTransitions && m.Values[0] == 1 {
				states = append(states, m.Dimensions[metrics.DimState])
			}
		}
	}
	if got := strings.Join(states, ","); got != "open,half-open,closed" {
		t.Fatalf("transitions %s, want open,half-open,closed", got)
	}
}
