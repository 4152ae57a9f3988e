package orders

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/tracing"
)

const testMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:shop-orders-saga"

// fakeExecutions keeps executions by ARN. Like the local emulator, it
// answers every repeated name with ExecutionAlreadyExists; with awsLike it
// answers a repeat with the same input as AWS does while the execution
// runs: the execution, no error.
type fakeExecutions struct {
	awsLike bool
	mu      sync.Mutex
	inputs  map[string]string // execution ARN -> input
	starts  int
	err     error // StartExecution fails with it
}

func (f *fakeExecutions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	arn := strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + aws.ToString(in.Name)
	if prev, ok := f.inputs[arn]; ok {
		if f.awsLike && prev == aws.ToString(in.Input) {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
		}
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution already exists: " + arn)}
	}
	if f.inputs == nil {
		f.inputs = map[string]string{}
	}
	f.inputs[arn] = aws.ToString(in.Input)
	f.starts++
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
}

func (f *fakeExecutions) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	input, ok := f.inputs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("no execution " + aws.ToString(in.ExecutionArn))}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Input: aws.String(input)}, nil
}

func testOrder() Order {
	return Order{ID: "0190a1b2-0000-8000-8000-000000000001", UserID: "u1", PaymentToken: "tok_visa",
		Items: []Line{{ProductID: pA, Quantity: 2, UnitPrice: money.Money{Amount: 999, Currency: "EUR"}}},
		Total: money.Money{Amount: 1998, Currency: "EUR"}}
}

func TestSagaStartsOnce(t *testing.T) {
	for _, awsLike := range []bool{false, true} {
		f := &fakeExecutions{awsLike: awsLike}
		saga := NewSaga(func() Executions { return f }, testMachine)
		ctx := context.Background()
		o := testOrder()
		for range 3 {
			if err := saga.Start(ctx, o.ID, PlaceInput(o)); err != nil {
				t.Fatalf("awsLike=%v: Start = %v", awsLike, err)
			}
		}
		if f.starts != 1 {
			t.Fatalf("awsLike=%v: %d executions started, want 1", awsLike, f.starts)
		}
		other := o
		other.PaymentToken = "tok_chargeDeclined"
		if err := saga.Start(ctx, o.ID, PlaceInput(other)); !errors.Is(err, ErrOtherInput) {
			t.Fatalf("awsLike=%v: another input under the same name: err = %v, want ErrOtherInput", awsLike, err)
		}
		// The cancel execution has a name of its own.
		if err := saga.Start(ctx, o.ID+cancelSuffix, CancelInput(o)); err != nil || f.starts != 2 {
			t.Fatalf("awsLike=%v: cancel: err = %v, %d executions", awsLike, err, f.starts)
		}
	}
}

func TestSagaStartFailure(t *testing.T) {
	f := &fakeExecutions{err: &types.StateMachineDoesNotExist{Message: aws.String("gone")}}
	err := NewSaga(func() Executions { return f }, testMachine).Start(context.Background(), "x", PlaceInput(testOrder()))
	var gone *types.StateMachineDoesNotExist
	if !errors.As(err, &gone) {
		t.Fatalf("err = %v, want the StartExecution error", err)
	}
}

// The inputs have the contract's shape: every field present, a cancel's
// items an empty array (JSONata fails on a missing field, and null is not
// an array).
func TestSagaInputs(t *testing.T) {
	o := testOrder()
	for _, tt := range []struct {
		in   SagaInput
		want string
	}{
		{PlaceInput(o), `{"action":"place","orderId":"0190a1b2-0000-8000-8000-000000000001","userId":"u1","items":[{"productId":"` + pA + `","quantity":2}],"total":{"amount":1998,"currency":"EUR"},"paymentToken":"tok_visa","traceHeader":""}`},
		{CancelInput(o), `{"action":"cancel","orderId":"0190a1b2-0000-8000-8000-000000000001","userId":"u1","items":[],"total":{"amount":0,"currency":"EUR"},"paymentToken":"","traceHeader":""}`},
	} {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("input = %s (%v)\nwant    %s", b, err, tt.want)
		}
	}
}

// traceKey marks a test's context with the trace header the fake
// tracing.Header reads from it.
type traceKey struct{}

// withTrace is ctx carrying header for fakeHeader.
func withTrace(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, traceKey{}, header)
}

// fakeHeader stands in for tracing.Header: the header withTrace put in ctx.
func fakeHeader(ctx context.Context) string {
	h, _ := ctx.Value(traceKey{}).(string)
	return h
}

// An execution continues the trace of the context it is started in: the
// input's traceHeader (for the steps) and StartExecution's TraceHeader (for
// AWS) are tracing.Header of that context. A retried request, in another
// trace, finds the execution its first attempt started, on AWS as on the
// emulator; and one started before inputs carried a trace too.
func TestSagaStartCarriesTheTrace(t *testing.T) {
	for _, awsLike := range []bool{false, true} {
		f := &fakeExecutions{awsLike: awsLike}
		saga := NewSaga(func() Executions { return f }, testMachine)
		saga.traceHeader = fakeHeader
		var starts []*sfn.StartExecutionInput
		recorder := &recordingExecutions{Executions: f, starts: &starts}
		saga.api = func() Executions { return recorder }
		o := testOrder()
		first := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		if err := saga.Start(withTrace(context.Background(), first), o.ID, PlaceInput(o)); err != nil {
			t.Fatal(err)
		}
		var in SagaInput
		if err := json.Unmarshal([]byte(aws.ToString(starts[0].Input)), &in); err != nil {
			t.Fatal(err)
		}
		if in.TraceHeader != first || aws.ToString(starts[0].TraceHeader) != first {
			t.Errorf("awsLike=%v: input traceHeader %q, TraceHeader %v, want both %q", awsLike, in.TraceHeader, aws.ToString(starts[0].TraceHeader), first)
		}
		retry := "Root=1-6759e988-bd862e3fe1be46a994272793;Parent=63995c3f42cd8ad8;Sampled=1"
		if err := saga.Start(withTrace(context.Background(), retry), o.ID, PlaceInput(o)); err != nil {
			t.Errorf("awsLike=%v: a retry in another trace: %v", awsLike, err)
		}
		if f.starts != 1 {
			t.Errorf("awsLike=%v: %d executions", awsLike, f.starts)
		}
		// An execution without a trace (started before inputs carried one).
		old, _ := json.Marshal(map[string]any{"action": "cancel", "orderId": o.ID, "userId": o.UserID, "items": []any{},
			"total": map[string]any{"amount": 0, "currency": "EUR"}, "paymentToken": ""})
		f.inputs[strings.Replace(testMachine, ":stateMachine:", ":execution:", 1)+":"+o.ID+cancelSuffix] = string(old)
		if err := saga.Start(withTrace(context.Background(), retry), o.ID+cancelSuffix, CancelInput(o)); err != nil {
			t.Errorf("awsLike=%v: an execution started without a trace: %v", awsLike, err)
		}
		// No span, no header: none passed, and StartExecution gets none.
		if err := saga.Start(context.Background(), "other", PlaceInput(o)); err != nil {
			t.Fatal(err)
		}
		if last := starts[len(starts)-1]; last.TraceHeader != nil || !strings.Contains(aws.ToString(last.Input), `"traceHeader":""`) {
			t.Errorf("awsLike=%v: without a trace: TraceHeader %v, input %s", awsLike, aws.ToString(last.TraceHeader), aws.ToString(last.Input))
		}
	}
}

// recordingExecutions records every StartExecution before passing it on.
type recordingExecutions struct {
	Executions
	starts *[]*sfn.StartExecutionInput
}

func (r *recordingExecutions) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	*r.starts = append(*r.starts, in)
	return r.Executions.StartExecution(ctx, in, opts...)
}

// NewSaga takes the header from shared/tracing: the span of the context.
func TestSagaTracesWithTracing(t *testing.T) {
	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	defer span.End(nil)
	if got := NewSaga(nil, testMachine).traceHeader(ctx); got == "" || got != tracing.Header(ctx) {
		t.Errorf("traceHeader = %q, want tracing.Header's %q", got, tracing.Header(ctx))
	}
}

func TestSameInputIgnoresTheTrace(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{`{"orderId":"o","traceHeader":"Root=1-a;Parent=b"}`, `{"orderId":"o","traceHeader":"Root=1-c;Parent=d"}`, true},
		{`{"orderId":"o"}`, `{"orderId":"o","traceHeader":"Root=1-c;Parent=d"}`, true},
		{`{"orderId":"o","traceHeader":""}`, `{"orderId":"p","traceHeader":""}`, false},
		{`not json`, `{"orderId":"o"}`, false},
	} {
		if got := sameInput(tt.a, []byte(tt.b)); got != tt.want {
			t.Errorf("sameInput(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

func TestSameJSON(t *testing.T) {
	if !sameJSON(`{ "b": [1, 2], "a": "x" }`, []byte(`{"a":"x","b":[1,2]}`)) {
		t.Error("the same document, re-encoded, compared different")
	}
	if sameJSON(`{"a":"x"}`, []byte(`{"a":"y"}`)) || sameJSON(`not json`, []byte(`{}`)) {
		t.Error("different documents compared equal")
	}
}
