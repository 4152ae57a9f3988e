package livediff

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// StateMachine is a Step Functions state machine. Its role (policy and
// trust) is among Roles under the same name, its execution log group among
// LogGroups.
type StateMachine struct {
	Type string `json:"type" diff:"type"`
	// Definition is canonical JSON (keys sorted, no spaces), so a
	// formatting of its own on either side is no difference; the step
	// ARNs in it are normalised like every other string (prefix, account).
	Definition           string   `json:"definition" diff:"definition"`
	Role                 string   `json:"role" diff:"role"`
	LogLevel             string   `json:"logLevel" diff:"log level"`
	IncludeExecutionData bool     `json:"includeExecutionData" diff:"execution data in the log"`
	LogDestinations      []string `json:"logDestinations,omitempty" diff:"log destination"`
	// Tracing is "on", "off", or "unreported" (MiniStack 1.5.33 keeps no
	// tracing configuration, so both stacks read back "unreported" there).
	Tracing string `json:"tracing" diff:"tracing"`
}

// readStateMachines reads the stack's state machines (<prefix>-orders-saga).
func readStateMachines(ctx context.Context, sn *snapshot) error {
	var arns []string
	p := sfn.NewListStateMachinesPaginator(sn.sfn, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list state machines: %w", err)
		}
		for _, m := range out.StateMachines {
			if sn.n.owns(aws.ToString(m.Name)) {
				arns = append(arns, aws.ToString(m.StateMachineArn))
			}
		}
	}
	machines := make([]StateMachine, len(arns))
	names := make([]string, len(arns))
	err := forEach(indexes(len(arns)), func(i int) error {
		out, err := sn.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arns[i]})
		if err != nil {
			return fmt.Errorf("describe state machine %s: %w", arns[i], err)
		}
		names[i] = aws.ToString(out.Name)
		machines[i] = stateMachineState(out)
		return nil
	})
	if err != nil {
		return err
	}
	sn.s.StateMachines = map[string]StateMachine{}
	for i, name := range names {
		sn.s.StateMachines[name] = machines[i]
	}
	return nil
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// stateMachineState is what Snapshot records of a described state machine.
func stateMachineState(out *sfn.DescribeStateMachineOutput) StateMachine {
	m := StateMachine{
		Type:       string(out.Type),
		Definition: canonicalJSON(aws.ToString(out.Definition)),
		Role:       aws.ToString(out.RoleArn),
		Tracing:    "unreported",
	}
	if l := out.LoggingConfiguration; l != nil {
		m.LogLevel = string(l.Level)
		m.IncludeExecutionData = l.IncludeExecutionData
		for _, d := range l.Destinations {
			if d.CloudWatchLogsLogGroup != nil {
				m.LogDestinations = append(m.LogDestinations, aws.ToString(d.CloudWatchLogsLogGroup.LogGroupArn))
			}
		}
	}
	if t := out.TracingConfiguration; t != nil {
		m.Tracing = "off"
		if t.Enabled {
			m.Tracing = "on"
		}
	}
	return m
}
