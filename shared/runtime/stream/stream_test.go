package stream

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/runtime/internal/lambdatest"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing"
)

const batch = `{"Records":[{"eventID":"1","eventName":"INSERT","eventSource":"aws:dynamodb","awsRegion":"us-east-1",
"eventSourceARN":"arn:aws:dynamodb:us-east-1:000000000000:table/shop-orders/stream/2026-12-01T00:00:00.000",
"dynamodb":{"Keys":{"pk":{"S":"OUTBOX#e1"},"sk":{"S":"OUTBOX"}},"NewImage":{"pk":{"S":"OUTBOX#e1"},"sk":{"S":"OUTBOX"},"events":{"S":"[]"},"ttl":{"N":"1800000000"}},
"SequenceNumber":"100","SizeBytes":80,"StreamViewType":"NEW_IMAGE"}}]}`

type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func TestStartOnLambda(t *testing.T) {
	for _, tt := range []struct {
		name        string
		err         error
		wantOutcome string
		wantBody    string
	}{
		{"handled", nil, "response", "null"},
		{"failed: the whole batch comes again", &failure{"publish failed"}, "error", `{"errorMessage":"publish failed","errorType":"failure"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got events.DynamoDBEvent
			h := func(_ context.Context, b events.DynamoDBEvent) error { got = b; return tt.err }
			res := lambdatest.Invoke(t, func() { Start(h, Source{}) }, []byte(batch))
			if res.Outcome != tt.wantOutcome || string(res.Body) != tt.wantBody {
				t.Errorf("%s %s, want %s %s", res.Outcome, res.Body, tt.wantOutcome, tt.wantBody)
			}
			if len(got.Records) != 1 || got.Records[0].EventName != "INSERT" || got.Records[0].Change.NewImage["pk"].String() != "OUTBOX#e1" {
				b, _ := json.Marshal(got)
				t.Errorf("handler got %s", b)
			}
		})
	}
}

// Off Lambda without a table, Start ends the process at once with one
// JSON line saying why, instead of serving nothing.
func TestStartOffLambdaWithoutATableFailsClearly(t *testing.T) {
	if os.Getenv("STREAM_TEST_START") == "1" {
		Start(func(context.Context, events.DynamoDBEvent) error { return nil }, Source{})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartOffLambdaWithoutATableFailsClearly$")
	cmd.Env = append(os.Environ(), "STREAM_TEST_START=1", "AWS_LAMBDA_RUNTIME_API=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, output %s", err, out)
	}
	if !strings.Contains(string(out), `"level":"ERROR"`) || !strings.Contains(string(out), "no table") {
		t.Errorf("output %s", out)
	}
}

// Other shapes must not link this package, nor it the CloudEvents SDK.
func TestDependencies(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/runtime/stream",
		"github.com/cloudevents/sdk-go", "github.com/shop-serverless/shop/shared/eventbus")
}

// Each batch runs in a span of its own, and its error comes back as is.
func TestEachBatchIsTraced(t *testing.T) {
	var headers []string
	want := &failure{"publish failed"}
	h := traced(func(ctx context.Context, _ events.DynamoDBEvent) error {
		headers = append(headers, tracing.Header(ctx))
		return want
	})
	for range 2 {
		if err := h(context.Background(), events.DynamoDBEvent{}); err != want {
			t.Fatalf("err = %v, want the handler's", err)
		}
	}
	if headers[0] == "" || headers[0] == headers[1] {
		t.Errorf("two batches in one span %q", headers[0])
	}
}
