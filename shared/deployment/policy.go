package deployment

import (
	"fmt"
	"slices"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// Policy is an IAM policy document. Its JSON is deterministic (structs, not
// maps, except for conditions, which encoding/json sorts), so two equal
// policies marshal to the same bytes.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy. Action and Resource are always
// lists here, which IAM and Terraform accept as they are.
type Statement struct {
	Sid       string                         `json:"Sid,omitempty"`
	Effect    string                         `json:"Effect"`
	Principal map[string]string              `json:"Principal,omitempty"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource,omitempty"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

const policyVersion = "2012-10-17"

// trustPolicy lets Lambda assume a function's role.
func trustPolicy() Policy { return servicePrincipalTrust("lambda.amazonaws.com") }

// StateMachineTrust lets Step Functions assume a state machine's role: the
// trust of every StateMachine.Role, which proves to a deployer pruning a
// state machine the model no longer has that its role is a state
// machine's.
func StateMachineTrust() Policy { return servicePrincipalTrust("states.amazonaws.com") }

// servicePrincipalTrust lets an AWS service assume a role.
func servicePrincipalTrust(service string) Policy {
	return Policy{Version: policyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": service},
		Action:    []string{"sts:AssumeRole"},
	}}}
}

// StateMachineLogActions are what Step Functions needs to deliver a state
// machine's execution log to CloudWatch Logs: it manages a log delivery
// and the log group's resource policy, none of which takes a resource ARN
// (AWS documents "*" as the only resource).
var StateMachineLogActions = []string{
	"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
	"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
}

// stateMachinePolicy is the least privilege of a state machine: invoke
// exactly its steps (the unqualified ARNs its definition names), deliver
// its log and write its traces.
func stateMachinePolicy(p Params, sm *manifest.StateMachine) Policy {
	var steps []string
	for _, name := range sm.Steps {
		steps = append(steps, functionARN(p, name))
	}
	return Policy{Version: policyVersion, Statement: []Statement{{
		Sid:      "InvokeOwnSteps",
		Effect:   "Allow",
		Action:   []string{"lambda:InvokeFunction"},
		Resource: steps,
	}, {
		Sid:      "DeliverExecutionLog",
		Effect:   "Allow",
		Action:   slices.Clone(StateMachineLogActions),
		Resource: []string{"*"},
	}, {
		Sid:      "WriteTraces",
		Effect:   "Allow",
		Action:   []string{"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"},
		Resource: []string{"*"},
	}}}
}

// StreamActions are what a DynamoDB stream mapping needs to read a
// table's stream.
var StreamActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

// QueueConsumerActions are what an SQS mapping needs to read and delete a
// consumer's messages, and what the consumer needs to back one off.
var QueueConsumerActions = []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}

// BreakerActions are what a shared circuit breaker does with its item: read
// the state, create it, and move it conditionally (closed -> open ->
// half-open) so concurrent instances never overwrite each other.
var BreakerActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}

// BreakerKeyPattern matches the partition keys of breaker items.
const BreakerKeyPattern = naming.BreakerKeyPrefix + "*"

// functionPolicy is the least privilege of one function: write its own log
// group (which the deployment creates, so the function never needs
// logs:CreateLogGroup) and traces; the manifest's DynamoDB actions on its
// own service's table and that table's indexes; and, when the manifest
// asks, read its own service's signing secret, read the published public
// keys, publish to the stack's bus, and keep circuit-breaker state in the
// platform table; a relay reads its table's stream and writes its
// dead-letter queue, a consumer reads its queue. Nothing else.
func functionPolicy(p Params, fn *manifest.Function) Policy {
	logGroup := fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s", p.Partition, p.Region, p.Account, naming.LogGroup(p.Prefix, fn.Name))
	doc := Policy{Version: policyVersion, Statement: []Statement{{
		Sid:      "WriteOwnLogs",
		Effect:   "Allow",
		Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resource: []string{logGroup + ":*"},
	}, {
		// Tracing is Active; these two X-Ray actions support no
		// resource-level permissions, so "*" is the only resource they take.
		Sid:      "WriteTraces",
		Effect:   "Allow",
		Action:   []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"},
		Resource: []string{"*"},
	}}}
	perms := fn.Permissions
	if len(perms.DynamoDB) > 0 {
		table := tableARN(p, naming.Table(p.Prefix, fn.Service))
		actions := make([]string, 0, len(perms.DynamoDB))
		for _, a := range perms.DynamoDB {
			actions = append(actions, "dynamodb:"+a)
		}
		slices.Sort(actions)
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "OwnTable",
			Effect:   "Allow",
			Action:   slices.Compact(actions),
			Resource: []string{table, table + "/index/*"},
		})
	}
	if perms.SigningKey {
		// Secrets Manager appends "-" and six random characters to a
		// secret's ARN; "-??????" matches exactly that suffix, where "*"
		// would also match a secret named <prefix>/signing/<service>-other.
		secret := fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", p.Partition, p.Region, p.Account, naming.SigningSecret(p.Prefix, fn.Service))
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ReadOwnSigningKeys",
			Effect:   "Allow",
			Action:   []string{"secretsmanager:GetSecretValue"},
			Resource: []string{secret},
		})
	}
	if perms.PublicKeys {
		// The parameter name starts with "/", which the ARN's "parameter"
		// already ends with: arn:...:parameter/<prefix>/jwks.
		param := fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s", p.Partition, p.Region, p.Account, naming.JWKSParameter(p.Prefix))
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ReadPublicKeys",
			Effect:   "Allow",
			Action:   []string{"ssm:GetParameter"},
			Resource: []string{param},
		})
	}
	if len(perms.StartExecution) > 0 {
		var machines, executions []string
		for _, name := range perms.StartExecution {
			machines = append(machines, stateMachineARN(p, fn.Service, name))
			executions = append(executions, fmt.Sprintf("arn:%s:states:%s:%s:execution:%s:*", p.Partition, p.Region, p.Account, naming.StateMachine(p.Prefix, fn.Service, name)))
		}
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "StartOwnStateMachines",
			Effect:   "Allow",
			Action:   []string{"states:StartExecution"},
			Resource: machines,
		}, Statement{
			// A repeated start reads the execution it collided with, to
			// compare inputs.
			Sid:      "ReadOwnExecutions",
			Effect:   "Allow",
			Action:   []string{"states:DescribeExecution"},
			Resource: executions,
		})
	}
	if perms.PaymentProvider {
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ReadPaymentProviderCredentials",
			Effect:   "Allow",
			Action:   []string{"secretsmanager:GetSecretValue"},
			Resource: []string{fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", p.Partition, p.Region, p.Account, p.PaymentProviderSecret)},
		})
	}
	if perms.PublishEvents {
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "PublishEvents",
			Effect:   "Allow",
			Action:   []string{"events:PutEvents"},
			Resource: []string{eventBusARN(p)},
		})
	}
	switch fn.Kind {
	case manifest.KindStream:
		// What the stream mapping reads on the relay's behalf (Lambda uses
		// the function's role), and where it, or the relay itself, sends a
		// record that failed for good.
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ReadOwnTableStream",
			Effect:   "Allow",
			Action:   slices.Clone(StreamActions),
			Resource: []string{tableARN(p, naming.Table(p.Prefix, fn.Service)) + "/stream/*"},
		}, Statement{
			Sid:      "SendToOwnDeadLetterQueue",
			Effect:   "Allow",
			Action:   []string{"sqs:SendMessage"},
			Resource: []string{queueARN(p, naming.DeadLetterQueue(p.Prefix, fn.Name))},
		})
	case manifest.KindEvent:
		// What the queue mapping does on the consumer's behalf, and the
		// visibility change the consumer makes itself to back off a
		// failed message.
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ConsumeOwnQueue",
			Effect:   "Allow",
			Action:   slices.Clone(QueueConsumerActions),
			Resource: []string{queueARN(p, naming.Queue(p.Prefix, fn.Name))},
		})
	}
	if perms.Breakers {
		// The platform table also holds other platform state; LeadingKeys
		// confines the function to the breaker items' partition keys: every
		// key the request touches must match (ForAllValues). The table
		// alone (no index/*): breaker state is read and written by key.
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "SharedBreakers",
			Effect:    "Allow",
			Action:    slices.Clone(BreakerActions),
			Resource:  []string{tableARN(p, naming.Table(p.Prefix, naming.PlatformService))},
			Condition: map[string]map[string][]string{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {BreakerKeyPattern}}},
		})
	}
	return doc
}

func functionARN(p Params, name string) string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", p.Partition, p.Region, p.Account, naming.Function(p.Prefix, name))
}

func stateMachineARN(p Params, service, name string) string {
	return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", p.Partition, p.Region, p.Account, naming.StateMachine(p.Prefix, service, name))
}

func tableARN(p Params, table string) string {
	return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", p.Partition, p.Region, p.Account, table)
}
