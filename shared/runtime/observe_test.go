package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/metrics/emftest"
)

// A step's run logs with the Lambda request id and counts as one
// invocation, a failure as an error.
func TestObserveStep(t *testing.T) {
	var logs, emf bytes.Buffer
	defer metrics.Redirect(&emf)()
	base := slog.New(log.NewHandler(&logs, slog.LevelInfo))
	step := observeStep(func(ctx context.Context, n int) (int, error) {
		log.FromContext(ctx).InfoContext(ctx, "step ran")
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n + 1, nil
	})
	ctx := log.WithContext(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"}), base)
	if out, err := step(ctx, 1); err != nil || out != 2 {
		t.Fatalf("step = %d, %v", out, err)
	}
	if _, err := step(ctx, -1); err == nil {
		t.Fatal("no error")
	}

	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{log.KeyRequestID, log.KeyCorrelationID, log.KeyTraceID, log.KeyColdStart} {
		if _, ok := line[k]; !ok {
			t.Errorf("no %s in %v", k, line)
		}
	}
	if line[log.KeyRequestID] != "lambda-req-1" {
		t.Errorf("requestId %v, want the Lambda request id", line[log.KeyRequestID])
	}
	var errs []float64
	for _, l := range strings.Split(strings.TrimSpace(emf.String()), "\n") {
		ms, err := emftest.Validate([]byte(l))
		if err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for _, m := range ms {
			if m.Name == metrics.Errors {
				errs = append(errs, m.Values[0])
			}
		}
	}
	if len(errs) != 2 || errs[0] != 0 || errs[1] != 1 {
		t.Errorf("Errors %v, want [0 1]", errs)
	}
}
