package livediff

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Two stacks' state machines compare equal when they differ only by prefix
// and account (in the step ARNs of the definition, the role and the log
// destination) and by the definition's formatting; another step, another
// log level or another tracing is a difference.
func TestStateMachinesDifferOnlyByPrefix(t *testing.T) {
	describe := func(prefix, account, definition string, level stypes.LogLevel, tracing *stypes.TracingConfiguration) *sfn.DescribeStateMachineOutput {
		return &sfn.DescribeStateMachineOutput{
			Name:       aws.String(prefix + "-orders-saga"),
			Type:       stypes.StateMachineTypeStandard,
			Definition: aws.String(definition),
			RoleArn:    aws.String("arn:aws:iam::" + account + ":role/" + prefix + "-orders-saga"),
			LoggingConfiguration: &stypes.LoggingConfiguration{
				Level: level,
				Destinations: []stypes.LogDestination{{CloudWatchLogsLogGroup: &stypes.CloudWatchLogsLogGroup{
					LogGroupArn: aws.String("arn:aws:logs:us-east-1:" + account + ":log-group:/aws/vendedlogs/states/" + prefix + "-orders-saga:*"),
				}}},
			},
			TracingConfiguration: tracing,
		}
	}
	def := func(prefix, account, step string) string {
		return `{"QueryLanguage":"JSONata","StartAt":"R","States":{"R":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",` +
			`"Arguments":{"FunctionName":"arn:aws:lambda:us-east-1:` + account + `:function:` + prefix + `-` + step + `"},"End":true}}}`
	}
	on := &stypes.TracingConfiguration{Enabled: true}
	state := func(prefix string, out *sfn.DescribeStateMachineOutput) *State {
		n := newNormaliser(prefix, nil)
		return n.state(&State{Prefix: prefix, StateMachines: map[string]StateMachine{aws.ToString(out.Name): stateMachineState(out)}})
	}
	local := state("shop", describe("shop", "000000000000", def("shop", "000000000000", "inventory-reserve"), stypes.LogLevelError, on))
	// Terraform's: another prefix and account, the same definition
	// formatted otherwise.
	tf := state("tf1", describe("tf1", "111111111111", "{\n  "+def("tf1", "111111111111", "inventory-reserve")[1:], stypes.LogLevelError, on))
	if d := Diff(local, tf); len(d) != 0 {
		t.Errorf("same state machine under two prefixes differs: %v", d)
	}
	if m := tf.StateMachines["{prefix}-orders-saga"]; m.Tracing != "on" || m.LogLevel != "ERROR" || m.Role != "arn:aws:iam::{account}:role/{prefix}-orders-saga" {
		t.Errorf("normalised state machine = %+v", m)
	}

	for name, other := range map[string]*State{
		"another step":      state("tf1", describe("tf1", "111111111111", def("tf1", "111111111111", "inventory-release"), stypes.LogLevelError, on)),
		"another log level": state("tf1", describe("tf1", "111111111111", def("tf1", "111111111111", "inventory-reserve"), stypes.LogLevelAll, on)),
		"no tracing":        state("tf1", describe("tf1", "111111111111", def("tf1", "111111111111", "inventory-reserve"), stypes.LogLevelError, &stypes.TracingConfiguration{})),
		"tracing unread":    state("tf1", describe("tf1", "111111111111", def("tf1", "111111111111", "inventory-reserve"), stypes.LogLevelError, nil)),
	} {
		if d := Diff(local, other); len(d) == 0 {
			t.Errorf("%s: no difference found", name)
		}
	}
}
