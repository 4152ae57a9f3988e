package orders

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/testenv"
)

// newStateMachine creates a state machine that waits a few seconds, so its
// executions are still running when a test starts them again (AWS answers
// a repeat differently once an execution ended), and deletes it after.
func newStateMachine(t *testing.T) (*sfn.Client, string) {
	t.Helper()
	testenv.RequireEmulator(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api := sfn.NewFromConfig(cfg)
	out, err := api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("orders-test-" + uuid.NewString()[:8]),
		RoleArn:    aws.String("arn:aws:iam::000000000000:role/orders-test"),
		Definition: aws.String(`{"QueryLanguage":"JSONata","StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":5,"End":true}}}`),
	})
	if err != nil {
		t.Fatalf("create state machine: %v", err)
	}
	t.Cleanup(func() {
		_, _ = api.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: out.StateMachineArn})
	})
	return api, aws.ToString(out.StateMachineArn)
}

// The emulator's real Step Functions: a repeated start with the same name
// and input is "started already", one execution, also from another trace
// (StartExecution's TraceHeader taken); another input under the name is
// ErrOtherInput.
func TestSagaStartOnTheEmulator(t *testing.T) {
	api, machine := newStateMachine(t)
	ctx := context.Background()
	saga := NewSaga(func() Executions { return api }, machine)
	saga.traceHeader = fakeHeader
	o := testOrder()
	o.ID = uuid.NewString()
	for i := range 2 {
		ctx := withTrace(ctx, fmt.Sprintf("Root=1-5759e988-bd862e3fe1be46a99427279%d;Parent=53995c3f42cd8ad8;Sampled=1", i))
		if err := saga.Start(ctx, o.ID, PlaceInput(o)); err != nil {
			t.Fatalf("Start = %v", err)
		}
	}
	other := o
	other.Total.Amount++
	if err := saga.Start(ctx, o.ID, PlaceInput(other)); !errors.Is(err, ErrOtherInput) {
		t.Fatalf("another input: err = %v, want ErrOtherInput", err)
	}
	if err := saga.Start(ctx, o.ID+cancelSuffix, CancelInput(o)); err != nil {
		t.Fatalf("the cancel execution: %v", err)
	}
	list, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, e := range list.Executions {
		names[aws.ToString(e.Name)]++
	}
	if len(list.Executions) != 2 || names[o.ID] != 1 || names[o.ID+cancelSuffix] != 1 {
		t.Fatalf("executions %v, want one %s and one %s-cancel", names, o.ID, o.ID)
	}
}
