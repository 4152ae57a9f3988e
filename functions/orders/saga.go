package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Saga actions: what an execution of the state machine does.
const (
	ActionPlace  = "place"  // reserve, charge, confirm; compensate on failure
	ActionCancel = "cancel" // refund and restock a confirmed order
)

// cancelSuffix names a confirmed order's cancel execution: "<id>-cancel".
const cancelSuffix = "-cancel"

// SagaInput is the input of every execution of the saga. A cancel has the
// same shape with empty items and a zero total, so that the state machine's
// JSONata expressions never meet a missing field (on AWS that fails the
// execution).
type SagaInput struct {
	Action       string      `json:"action"`
	OrderID      string      `json:"orderId"`
	UserID       string      `json:"userId"`
	Items        []SagaItem  `json:"items"`
	Total        money.Money `json:"total"`
	PaymentToken string      `json:"paymentToken"`
	// TraceHeader is the trace of the code that starts the execution
	// (Saga.Start sets it): the definition passes it to every step, whose
	// span continues it, since the local emulator traces no state machine.
	// It is no part of what the execution does: a retried request (a new
	// trace) finds its execution all the same.
	TraceHeader string `json:"traceHeader"`
}

// traceHeaderField is TraceHeader's name in the input.
const traceHeaderField = "traceHeader"

// SagaItem is a line as the inventory steps take it.
type SagaItem struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// PlaceInput is the input of the execution that places o (named o.ID).
func PlaceInput(o Order) SagaInput {
	items := make([]SagaItem, len(o.Items))
	for i, l := range o.Items {
		items[i] = SagaItem{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return SagaInput{Action: ActionPlace, OrderID: o.ID, UserID: o.UserID, Items: items, Total: o.Total, PaymentToken: o.PaymentToken}
}

// CancelInput is the input of the execution that cancels the confirmed
// order o (named o.ID + "-cancel").
func CancelInput(o Order) SagaInput {
	return SagaInput{Action: ActionCancel, OrderID: o.ID, UserID: o.UserID, Items: []SagaItem{},
		Total: money.Money{Amount: 0, Currency: o.Total.Currency}}
}

// Executions is the part of the Step Functions API the saga needs;
// *sfn.Client satisfies it.
type Executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// ErrOtherInput is an execution that exists under the name asked for with
// a different input: a bug (the input is derived from the stored order,
// which the name identifies), never the caller's doing.
var ErrOtherInput = errors.New("orders: an execution of that name runs with another input")

// maxTraceHeader is the longest TraceHeader StartExecution accepts.
const maxTraceHeader = 256

// Saga starts executions of the saga state machine, each at most once.
type Saga struct {
	api          func() Executions // made on first use: a cold start that needs none pays nothing
	stateMachine string            // ARN
	// traceHeader is what an execution continues: tracing.Header (tests
	// replace it, to tell the context it is asked about).
	traceHeader func(context.Context) string
}

// NewSaga returns a Saga on the state machine with ARN stateMachine, whose
// API client api makes on first use (sync.OnceValue).
func NewSaga(api func() Executions, stateMachine string) *Saga {
	return &Saga{api: api, stateMachine: stateMachine, traceHeader: tracing.Header}
}

// Start starts the execution name with in, or finds it started already.
//
// Execution names are unique per state machine for 90 days, and the order
// id is the name, so a retried POST cannot start a second saga. What a
// repeated StartExecution answers differs: AWS returns the running
// execution when name and input are the same (and ExecutionAlreadyExists
// for a different input, or once it has ended); the local emulator answers
// ExecutionAlreadyExists every time. Both are settled here the same way:
// on ExecutionAlreadyExists the execution is described and its input
// compared with in, but for the trace header (a retry is traced anew).
// Equal, it was started already, which is success; different is
// ErrOtherInput.
//
// The execution continues ctx's trace: in.TraceHeader is set to
// tracing.Header(ctx), for the steps, and StartExecution passes it as its
// TraceHeader, which Step Functions continues on AWS.
func (s *Saga) Start(ctx context.Context, name string, in SagaInput) error {
	in.TraceHeader = s.traceHeader(ctx)
	input, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("saga input: %w", err)
	}
	start := &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachine), Name: aws.String(name), Input: aws.String(string(input)),
	}
	if in.TraceHeader != "" && len(in.TraceHeader) <= maxTraceHeader {
		start.TraceHeader = aws.String(in.TraceHeader)
	}
	api := s.api()
	_, err = api.StartExecution(ctx, start)
	if err == nil {
		return nil
	}
	if !alreadyExists(err) {
		return fmt.Errorf("start execution %s: %w", name, err)
	}
	out, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.executionARN(name))})
	if err != nil {
		return fmt.Errorf("describe execution %s: %w", name, err)
	}
	if !sameInput(aws.ToString(out.Input), input) {
		return fmt.Errorf("%w: execution %s", ErrOtherInput, name)
	}
	return nil
}

// executionARN is the ARN of the state machine's execution name:
// arn:aws:states:<region>:<account>:execution:<state machine>:<name>.
func (s *Saga) executionARN(name string) string {
	return strings.Replace(s.stateMachine, ":stateMachine:", ":execution:", 1) + ":" + name
}

func alreadyExists(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ExecutionAlreadyExists"
}

// sameInput compares two execution inputs as sameJSON does, without their
// trace headers: each request that starts an execution has its own trace,
// and an execution started before inputs carried one has none.
func sameInput(a string, b []byte) bool {
	return sameJSON(withoutTrace(a), []byte(withoutTrace(string(b))))
}

// withoutTrace is the input doc without its trace header; doc itself when
// it is not a JSON object.
func withoutTrace(doc string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(doc), &m) != nil {
		return doc
	}
	delete(m, traceHeaderField)
	b, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return string(b)
}

// sameJSON compares two JSON documents by value: a service may store the
// input re-encoded (spacing, key order).
func sameJSON(a string, b []byte) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
