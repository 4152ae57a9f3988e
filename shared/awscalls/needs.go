package awscalls

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// itemKeyAttributes are the attributes of a written item (PutItem, a Put in
// a transaction or batch) that are kept as its key. A Key parameter is the
// primary key and is kept whole, but an Item is the whole item: only the key
// attributes may be kept, because the rest is data (password hashes among
// it). They are the names shared/store gives every table's keys (store.PK,
// store.SK; a test keeps them equal). A table keyed otherwise leaves the
// check without the partition key of such an item, and the check then fails
// closed on any condition that needs it.
var itemKeyAttributes = []string{"pk", "sk"}

// describe names the authorisations a call needs from the operation and its
// JSON body. It returns a non-empty problem when it cannot tell them all.
func describe(service, operation string, body []byte) ([]Need, string) {
	if service == "" {
		return nil, "unsigned request: no credential scope names its service"
	}
	if operation == "" {
		return nil, "empty operation in X-Amz-Target"
	}
	var (
		needs []Need
		err   error
	)
	switch service {
	case "dynamodb":
		// DynamoDB Streams signs as dynamodb too; its operations are
		// named apart from the table's.
		if slices.Contains(streamOperations, operation) {
			needs, err = dynamoDBStream(operation, body)
		} else {
			needs, err = dynamoDBItems(operation, body)
		}
	case "events":
		needs, err = eventBuses(operation, body)
	case "sqs":
		needs, err = sqsQueue(operation, body)
	case "secretsmanager":
		needs, err = secretsManagerSecret(operation, body)
	case "ssm":
		needs, err = ssmParameters(operation, body)
	case "states":
		needs, err = stepFunctionsResource(operation, body)
	default:
		err = fmt.Errorf("the resources of %s:%s are not known to this recorder", service, operation)
	}
	if err != nil {
		return needs, err.Error()
	}
	return needs, ""
}

// attrValue is a DynamoDB AttributeValue: {"S": "x"}, {"N": "1"}, {"B": "..."}.
type attrValue map[string]json.RawMessage

// scalar is the value of a key attribute as IAM compares it (B stays base64).
func (v attrValue) scalar() (string, bool) {
	for _, t := range []string{"S", "N", "B"} {
		if raw, ok := v[t]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s, true
			}
		}
	}
	return "", false
}

type item map[string]attrValue

// key keeps the scalar attributes of a Key (all of them: a Key is the
// primary key), or of an Item only those named in only.
func (it item) key(only []string) map[string]string {
	k := map[string]string{}
	for name, v := range it {
		if only != nil && !slices.Contains(only, name) {
			continue
		}
		if s, ok := v.scalar(); ok {
			k[name] = s
		}
	}
	return k
}

// tableOp is the part of every single-table DynamoDB request this package reads.
type tableOp struct {
	TableName string `json:"TableName"`
	IndexName string `json:"IndexName"`
	Key       item   `json:"Key"`
	Item      item   `json:"Item"`
	// Query's key condition, new style and legacy.
	KeyConditionExpression    string               `json:"KeyConditionExpression"`
	ExpressionAttributeNames  map[string]string    `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]attrValue `json:"ExpressionAttributeValues"`
	KeyConditions             map[string]struct {
		ComparisonOperator string      `json:"ComparisonOperator"`
		AttributeValueList []attrValue `json:"AttributeValueList"`
	} `json:"KeyConditions"`
}

func (o tableOp) resource() string {
	r := o.TableName
	if !strings.HasPrefix(r, "arn:") {
		r = "table/" + r
	}
	if o.IndexName != "" {
		r += "/index/" + o.IndexName
	}
	return r
}

func dynamoDBItems(operation string, body []byte) ([]Need, error) {
	switch operation {
	case "BatchGetItem":
		var in struct {
			RequestItems map[string]struct {
				Keys []item `json:"Keys"`
			} `json:"RequestItems"`
		}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		var needs []Need
		for _, table := range slices.Sorted(maps.Keys(in.RequestItems)) {
			n := Need{Action: "dynamodb:BatchGetItem", Resource: tableOp{TableName: table}.resource()}
			for _, k := range in.RequestItems[table].Keys {
				n.Keys = append(n.Keys, k.key(nil))
			}
			needs = append(needs, n)
		}
		return needs, nonEmpty(needs)
	case "BatchWriteItem":
		var in struct {
			RequestItems map[string][]struct {
				PutRequest *struct {
					Item item `json:"Item"`
				} `json:"PutRequest"`
				DeleteRequest *struct {
					Key item `json:"Key"`
				} `json:"DeleteRequest"`
			} `json:"RequestItems"`
		}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		var needs []Need
		for _, table := range slices.Sorted(maps.Keys(in.RequestItems)) {
			n := Need{Action: "dynamodb:BatchWriteItem", Resource: tableOp{TableName: table}.resource()}
			for _, w := range in.RequestItems[table] {
				switch {
				case w.PutRequest != nil:
					n.Keys = append(n.Keys, w.PutRequest.Item.key(itemKeyAttributes))
				case w.DeleteRequest != nil:
					n.Keys = append(n.Keys, w.DeleteRequest.Key.key(nil))
				}
			}
			needs = append(needs, n)
		}
		return needs, nonEmpty(needs)
	case "TransactWriteItems", "TransactGetItems":
		// Not IAM actions: a transaction is allowed when each of its items'
		// own actions is, on that item's table.
		var in struct {
			TransactItems []map[string]tableOp `json:"TransactItems"`
		}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		actions := map[string]string{"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
		var needs []Need
		for i, ti := range in.TransactItems {
			if len(ti) != 1 {
				return needs, fmt.Errorf("%s: item %d has %d operations, want 1", operation, i, len(ti))
			}
			for kind, op := range ti {
				action, ok := actions[kind]
				if !ok || op.TableName == "" {
					return needs, fmt.Errorf("%s: item %d: %q on table %q", operation, i, kind, op.TableName)
				}
				k := op.Key.key(nil)
				if kind == "Put" {
					k = op.Item.key(itemKeyAttributes)
				}
				needs = append(needs, Need{Action: "dynamodb:" + action, Resource: op.resource(), Keys: []map[string]string{k}})
			}
		}
		return needs, nonEmpty(needs)
	case "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction":
		return nil, fmt.Errorf("PartiQL (%s): the tables are in the statement text, which this recorder does not parse", operation)
	}

	var op tableOp
	if err := decode(body, &op); err != nil {
		return nil, err
	}
	if op.TableName == "" {
		return nil, fmt.Errorf("dynamodb:%s without TableName: its resources are not known to this recorder", operation)
	}
	n := Need{Action: "dynamodb:" + operation, Resource: op.resource()}
	switch operation {
	case "GetItem", "UpdateItem", "DeleteItem":
		n.Keys = []map[string]string{op.Key.key(nil)}
	case "PutItem":
		n.Keys = []map[string]string{op.Item.key(itemKeyAttributes)}
	case "Query":
		k := op.keyEqualities()
		if len(k) == 0 {
			return []Need{n}, errors.New("no equality on a key attribute in the query's key condition")
		}
		n.Keys = []map[string]string{k}
	}
	return []Need{n}, nil
}

// equality matches "name = :value" (or ":value = name") in a key condition
// expression, where name may be a #placeholder. A key condition allows "="
// only for equality, so ">=" and "<=" never match: the character before "="
// must be a space or part of the name.
// Compiled on first use, not at init: every function links this package,
// and its cold start should not pay for a recorder that is off.
var equality = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(#?[A-Za-z0-9_.-]+)\s*=\s*(:[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)\s*=\s*(#?[A-Za-z0-9_.-]+)`)
})

// keyEqualities are the attributes a Query's key condition fixes: always the
// partition key, and the sort key when it is compared with "=".
func (o tableOp) keyEqualities() map[string]string {
	k := map[string]string{}
	for _, m := range equality().FindAllStringSubmatch(o.KeyConditionExpression, -1) {
		name, value := m[1], m[2]
		if name == "" {
			name, value = m[4], m[3]
		}
		if strings.HasPrefix(name, "#") && o.ExpressionAttributeNames[name] == "" {
			continue
		}
		if real, ok := o.ExpressionAttributeNames[name]; ok {
			name = real
		}
		if s, ok := o.ExpressionAttributeValues[value].scalar(); ok {
			k[name] = s
		}
	}
	for name, c := range o.KeyConditions {
		if c.ComparisonOperator == "EQ" && len(c.AttributeValueList) == 1 {
			if s, ok := c.AttributeValueList[0].scalar(); ok {
				k[name] = s
			}
		}
	}
	return k
}

func secretsManagerSecret(operation string, body []byte) ([]Need, error) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.SecretID == "" {
		return nil, fmt.Errorf("secretsmanager:%s without SecretId: its resources are not known to this recorder", operation)
	}
	r := in.SecretID
	if !strings.HasPrefix(r, "arn:") {
		r = "secret:" + r
	}
	return []Need{{Action: "secretsmanager:" + operation, Resource: r}}, nil
}

func ssmParameters(operation string, body []byte) ([]Need, error) {
	var in struct {
		Name  string   `json:"Name"`
		Names []string `json:"Names"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	names := in.Names
	if in.Name != "" {
		names = append(names, in.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("ssm:%s without Name or Names: its resources are not known to this recorder", operation)
	}
	needs := make([]Need, 0, len(names))
	for _, name := range names {
		r := name
		if !strings.HasPrefix(r, "arn:") {
			// A parameter's ARN is "parameter" followed by its name, with a
			// "/" between them only when the name does not start with one.
			r = "parameter/" + strings.TrimPrefix(name, "/")
		}
		needs = append(needs, Need{Action: "ssm:" + operation, Resource: r})
	}
	return needs, nil
}

// stepFunctionsResource names what a Step Functions call acts on: the
// state machine a StartExecution starts (its ARN, as IAM's resource), the
// execution a DescribeExecution reads (IAM's resource is the execution's
// ARN, arn:...:execution:<state machine>:<name>). Both bodies always carry
// the full ARN, so no resolver is needed. Other operations are not known.
func stepFunctionsResource(operation string, body []byte) ([]Need, error) {
	var in struct {
		StateMachineARN string `json:"stateMachineArn"`
		ExecutionARN    string `json:"executionArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var r string
	switch operation {
	case "StartExecution", "StartSyncExecution":
		r = in.StateMachineARN
	case "DescribeExecution", "StopExecution", "GetExecutionHistory":
		r = in.ExecutionARN
	default:
		return nil, fmt.Errorf("the resources of states:%s are not known to this recorder", operation)
	}
	if !strings.HasPrefix(r, "arn:") {
		return nil, fmt.Errorf("states:%s without the ARN it acts on", operation)
	}
	return []Need{{Action: "states:" + operation, Resource: r}}, nil
}

// streamOperations are DynamoDB Streams' operations.
var streamOperations = []string{"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}

// dynamoDBStream names the stream a DynamoDB Streams call reads (IAM's
// resource is the stream's ARN, table/<name>/stream/<label>). GetRecords
// names it only in its shard iterator, which starts with the stream's ARN
// and a "|" on AWS and on the emulator alike; ListStreams names at most a
// table, whose every stream it lists.
func dynamoDBStream(operation string, body []byte) ([]Need, error) {
	var in struct {
		StreamARN     string `json:"StreamArn"`
		ShardIterator string `json:"ShardIterator"`
		TableName     string `json:"TableName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	r := in.StreamARN
	switch operation {
	case "GetRecords":
		r, _, _ = strings.Cut(in.ShardIterator, "|")
	case "ListStreams":
		if in.TableName == "" {
			return nil, errors.New("dynamodb:ListStreams without TableName lists every table's streams: its resources are not known to this recorder")
		}
		r = tableOp{TableName: in.TableName}.resource() + "/stream/*"
	}
	if operation != "ListStreams" && (!strings.HasPrefix(r, "arn:") || !strings.Contains(r, "/stream/")) {
		return nil, fmt.Errorf("dynamodb:%s names no stream ARN", operation)
	}
	return []Need{{Action: "dynamodb:" + operation, Resource: r}}, nil
}

// eventBuses names the buses a PutEvents puts on: IAM's resource is each
// entry's bus (event-bus/<name>), the default bus when an entry names none.
func eventBuses(operation string, body []byte) ([]Need, error) {
	if operation != "PutEvents" {
		return nil, fmt.Errorf("the resources of events:%s are not known to this recorder", operation)
	}
	var in struct {
		Entries []struct {
			EventBusName string `json:"EventBusName"`
		} `json:"Entries"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var needs []Need
	for _, e := range in.Entries {
		r := e.EventBusName
		if r == "" {
			r = "default"
		}
		if !strings.HasPrefix(r, "arn:") {
			r = "event-bus/" + r
		}
		if !slices.ContainsFunc(needs, func(n Need) bool { return n.Resource == r }) {
			needs = append(needs, Need{Action: "events:PutEvents", Resource: r})
		}
	}
	return needs, nonEmpty(needs)
}

// sqsActions are the IAM actions of SQS operations whose action is not
// named as they are: a batch is authorised as its single form.
var sqsActions = map[string]string{
	"SendMessageBatch":             "SendMessage",
	"DeleteMessageBatch":           "DeleteMessage",
	"ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}

// sqsQueue names the queue an SQS call acts on: IAM's resource is the
// queue's ARN, whose resource part is the queue's name, the last segment
// of its URL (https://sqs.<region>.amazonaws.com/<account>/<name>).
func sqsQueue(operation string, body []byte) ([]Need, error) {
	var in struct {
		QueueURL  string `json:"QueueUrl"`
		QueueName string `json:"QueueName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name := in.QueueName
	if in.QueueURL != "" {
		name = in.QueueURL[strings.LastIndex(in.QueueURL, "/")+1:]
	}
	if name == "" {
		return nil, fmt.Errorf("sqs:%s without QueueUrl or QueueName: its resources are not known to this recorder", operation)
	}
	action := operation
	if a, ok := sqsActions[operation]; ok {
		action = a
	}
	return []Need{{Action: "sqs:" + action, Resource: name}}, nil
}

// MappingNeeds are the calls Lambda makes with a function's role for an
// event source mapping from source (a queue's or a table stream's ARN),
// sending a batch that failed for good to onFailure (a queue's or topic's
// ARN; "" for none). The function's code never makes them, so no recorder
// sees them; each is a whole ARN.
func MappingNeeds(source, onFailure string) ([]Need, error) {
	var actions []string
	switch {
	case strings.HasPrefix(source, "arn:") && strings.Contains(source, ":sqs:"):
		actions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
	case strings.HasPrefix(source, "arn:") && strings.Contains(source, ":dynamodb:") && strings.Contains(source, "/stream/"):
		actions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
	default:
		return nil, fmt.Errorf("event source %q: neither an SQS queue nor a DynamoDB stream, whose needs this package does not know", source)
	}
	needs := make([]Need, 0, len(actions)+1)
	for _, a := range actions {
		needs = append(needs, Need{Action: a, Resource: source})
	}
	switch {
	case onFailure == "":
	case strings.Contains(onFailure, ":sqs:"):
		needs = append(needs, Need{Action: "sqs:SendMessage", Resource: onFailure})
	case strings.Contains(onFailure, ":sns:"):
		needs = append(needs, Need{Action: "sns:Publish", Resource: onFailure})
	default:
		return needs, fmt.Errorf("on-failure destination %q: neither an SQS queue nor an SNS topic, whose needs this package does not know", onFailure)
	}
	return needs, nil
}

// decode reads an operation's JSON body; an empty body is an empty input.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("body is not the JSON the operation takes: %w", err)
	}
	return nil
}

func nonEmpty(needs []Need) error {
	if len(needs) == 0 {
		return errors.New("no items in the request")
	}
	return nil
}
