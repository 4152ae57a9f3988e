package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// ensureStateMachines deploys each model state machine with its role and
// execution log group, after the functions it invokes (its definition
// names their ARNs, and AWS checks the role may invoke them only at run
// time, but a state machine whose steps are missing is never a state worth
// being in).
func (d *deployer) ensureStateMachines(ctx context.Context) error {
	for i := range d.model.StateMachines {
		if err := d.ensureStateMachine(ctx, &d.model.StateMachines[i]); err != nil {
			return err
		}
	}
	return nil
}

// stateMachineConfig is the part of a state machine the model decides;
// stateMachineDiff compares it field by field.
type stateMachineConfig struct {
	Definition string
	Role       string
	Type       string
	Logging    stypes.LoggingConfiguration
	// Tracing nil: not reported (MiniStack 1.5.33 keeps no tracing
	// configuration and describes none), so not compared.
	Tracing *bool
}

// wantStateMachine is sm as Step Functions describes it, run by roleARN and
// logging to the group logGroupARN (without the ":*" suffix).
func wantStateMachine(sm *deployment.StateMachine, roleARN, logGroupARN string) stateMachineConfig {
	return stateMachineConfig{
		Definition: sm.Definition,
		Role:       roleARN,
		Type:       sm.Type,
		Logging: stypes.LoggingConfiguration{
			Level: stypes.LogLevel(sm.LogLevel),
			// Never the execution data: the inputs carry payment tokens.
			IncludeExecutionData: false,
			Destinations: []stypes.LogDestination{{
				// Step Functions wants the log group's ARN with ":*".
				CloudWatchLogsLogGroup: &stypes.CloudWatchLogsLogGroup{LogGroupArn: aws.String(logGroupARN + ":*")},
			}},
		},
		Tracing: aws.Bool(sm.Tracing),
	}
}

func haveStateMachine(out *sfn.DescribeStateMachineOutput) stateMachineConfig {
	c := stateMachineConfig{
		Definition: aws.ToString(out.Definition),
		Role:       aws.ToString(out.RoleArn),
		Type:       string(out.Type),
	}
	if out.LoggingConfiguration != nil {
		c.Logging = *out.LoggingConfiguration
	}
	if out.TracingConfiguration != nil {
		c.Tracing = aws.Bool(out.TracingConfiguration.Enabled)
	}
	return c
}

// stateMachineDiff names the fields of have that differ from want, in a
// fixed order; empty means no UpdateStateMachine is needed. Definitions
// are compared by meaning (Step Functions may hand back another
// formatting).
func stateMachineDiff(want, have stateMachineConfig) []string {
	var diff []string
	if !sameJSON(want.Definition, have.Definition) {
		diff = append(diff, "definition")
	}
	if want.Role != have.Role {
		diff = append(diff, "role")
	}
	if want.Type != have.Type {
		diff = append(diff, "type")
	}
	if want.Logging.Level != have.Logging.Level || want.Logging.IncludeExecutionData != have.Logging.IncludeExecutionData ||
		!sameDestinations(want.Logging.Destinations, have.Logging.Destinations) {
		diff = append(diff, "logging")
	}
	if have.Tracing != nil && aws.ToBool(want.Tracing) != *have.Tracing {
		diff = append(diff, "tracing")
	}
	return diff
}

func sameDestinations(a, b []stypes.LogDestination) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		var ga, gb string
		if a[i].CloudWatchLogsLogGroup != nil {
			ga = aws.ToString(a[i].CloudWatchLogsLogGroup.LogGroupArn)
		}
		if b[i].CloudWatchLogsLogGroup != nil {
			gb = aws.ToString(b[i].CloudWatchLogsLogGroup.LogGroupArn)
		}
		if ga != gb {
			return false
		}
	}
	return true
}

// sameJSON compares two JSON documents by meaning.
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// stateMachineRoleWait bounds the retries of CreateStateMachine while IAM
// propagates a new role (AWS answers AccessDeniedException: "Neither the
// global service principal states.amazonaws.com, nor the regional one is
// authorized to assume the provided role").
const stateMachineRoleWait = 30 * time.Second

// ensureStateMachine makes sm's role and log group, then creates the state
// machine or brings it in line with the model. A state machine cannot
// change its type in place: one of another type is replaced.
func (d *deployer) ensureStateMachine(ctx context.Context, sm *deployment.StateMachine) error {
	roleARN, err := d.ensureRole(ctx, sm.Role)
	if err != nil {
		return err
	}
	logGroupARN, err := d.ensureLogGroup(ctx, sm.LogGroup, int32(d.model.Settings.LogRetentionDays))
	if err != nil {
		return err
	}
	want := wantStateMachine(sm, roleARN, logGroupARN)
	arn := sm.ARN

	got, err := d.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
	switch {
	case awserr.HasCode(err, "StateMachineDoesNotExist"):
		if err := d.createStateMachine(ctx, sm, want); err != nil {
			return err
		}
		d.p.report("sfn", sm.StateMachineName, statusCreated)
		return nil
	case err != nil:
		return fmt.Errorf("state machine %s: describe: %w", sm.StateMachineName, err)
	}
	diff := stateMachineDiff(want, haveStateMachine(got))
	if len(diff) == 0 {
		d.p.report("sfn", sm.StateMachineName, statusUnchanged)
		return nil
	}
	if want.Type != string(got.Type) {
		if err := d.deleteStateMachine(ctx, sm.StateMachineName, arn); err != nil {
			return err
		}
		if err := d.createStateMachine(ctx, sm, want); err != nil {
			return err
		}
		d.p.report("sfn", sm.StateMachineName, statusUpdated)
		return nil
	}
	_, err = d.sfn.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
		StateMachineArn:      &arn,
		Definition:           &want.Definition,
		RoleArn:              &want.Role,
		LoggingConfiguration: &want.Logging,
		TracingConfiguration: &stypes.TracingConfiguration{Enabled: aws.ToBool(want.Tracing)},
	})
	if err != nil {
		return fmt.Errorf("state machine %s: update (%s): %w", sm.StateMachineName, strings.Join(diff, ", "), err)
	}
	d.p.report("sfn", sm.StateMachineName, statusUpdated)
	return nil
}

func (d *deployer) createStateMachine(ctx context.Context, sm *deployment.StateMachine, want stateMachineConfig) error {
	in := &sfn.CreateStateMachineInput{
		Name:                 &sm.StateMachineName,
		Definition:           &want.Definition,
		RoleArn:              &want.Role,
		Type:                 stypes.StateMachineType(want.Type),
		LoggingConfiguration: &want.Logging,
		TracingConfiguration: &stypes.TracingConfiguration{Enabled: aws.ToBool(want.Tracing)},
	}
	return poll(ctx, "state machine "+sm.StateMachineName+": create", stateMachineRoleWait, time.Second, func(ctx context.Context) (bool, error) {
		_, err := d.sfn.CreateStateMachine(ctx, in)
		switch {
		case awserr.HasCode(err, "AccessDeniedException") && strings.Contains(err.Error(), "assume"):
			return false, nil // the new role has not propagated yet
		case awserr.HasCode(err, "StateMachineAlreadyExists"):
			// Our own create, retried after a lost response (retried.go):
			// Step Functions answers a create identical to the existing
			// machine with success, and this only when the first attempt
			// made something else; the next run updates it.
			return false, fmt.Errorf("%w (made by another create meanwhile; run the deploy again)", err)
		case err != nil:
			return false, err
		}
		return true, nil
	})
}

// deleteStateMachine deletes a state machine; not found is our own delete,
// retried after a lost response.
func (d *deployer) deleteStateMachine(ctx context.Context, name, arn string) error {
	if _, err := d.sfn.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: &arn}); err != nil && !awserr.HasCode(err, "StateMachineDoesNotExist") {
		return fmt.Errorf("state machine %s: delete: %w", name, err)
	}
	d.p.report("sfn", name, statusDeleted)
	return nil
}
