package awscalls

import (
	"reflect"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	type keys = []map[string]string
	tests := []struct {
		name      string
		service   string
		operation string
		body      string
		want      []Need
		problem   string // a substring of the problem; "" for none
	}{
		{
			name: "StartExecution acts on the state machine", service: "states", operation: "StartExecution",
			body: `{"stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:shop-orders-saga","name":"o1","input":"{}"}`,
			want: []Need{{Action: "states:StartExecution", Resource: "arn:aws:states:us-east-1:000000000000:stateMachine:shop-orders-saga"}},
		},
		{
			name: "DescribeExecution acts on the execution", service: "states", operation: "DescribeExecution",
			body: `{"executionArn":"arn:aws:states:us-east-1:000000000000:execution:shop-orders-saga:o1"}`,
			want: []Need{{Action: "states:DescribeExecution", Resource: "arn:aws:states:us-east-1:000000000000:execution:shop-orders-saga:o1"}},
		},
		{
			name: "StartExecution without its ARN", service: "states", operation: "StartExecution", body: `{"name":"o1"}`,
			problem: "without the ARN",
		},
		{
			name: "an unknown Step Functions operation", service: "states", operation: "ListExecutions", body: `{}`,
			problem: "not known",
		},
		{
			name: "GetSecretValue of the payment provider's secret by name", service: "secretsmanager", operation: "GetSecretValue",
			body: `{"SecretId":"shop/payment-provider"}`,
			want: []Need{{Action: "secretsmanager:GetSecretValue", Resource: "secret:shop/payment-provider"}},
		},
		{
			name: "GetItem keeps the whole Key", service: "dynamodb", operation: "GetItem",
			body: `{"TableName":"shop-users","Key":{"pk":{"S":"USER#1"},"sk":{"S":"PROFILE"}},"ConsistentRead":true}`,
			want: []Need{{Action: "dynamodb:GetItem", Resource: "table/shop-users", Keys: keys{{"pk": "USER#1", "sk": "PROFILE"}}}},
		},
		{
			name: "PutItem keeps only the key attributes of the item", service: "dynamodb", operation: "PutItem",
			body: `{"TableName":"shop-users","Item":{"pk":{"S":"LOGIN#a@b.co"},"sk":{"S":"FAILURES"},"passwordHash":{"S":"$argon2id$secret"},"failures":{"N":"1"}}}`,
			want: []Need{{Action: "dynamodb:PutItem", Resource: "table/shop-users", Keys: keys{{"pk": "LOGIN#a@b.co", "sk": "FAILURES"}}}},
		},
		{
			name: "UpdateItem with a numeric and a binary key", service: "dynamodb", operation: "UpdateItem",
			body: `{"TableName":"t","Key":{"id":{"N":"42"},"b":{"B":"AAE="}},"UpdateExpression":"SET a = :a"}`,
			want: []Need{{Action: "dynamodb:UpdateItem", Resource: "table/t", Keys: keys{{"id": "42", "b": "AAE="}}}},
		},
		{
			name: "DeleteItem on a table named by ARN", service: "dynamodb", operation: "DeleteItem",
			body: `{"TableName":"arn:aws:dynamodb:us-east-1:123456789012:table/t","Key":{"pk":{"S":"X"}}}`,
			want: []Need{{Action: "dynamodb:DeleteItem", Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/t", Keys: keys{{"pk": "X"}}}},
		},
		{
			name: "Query on an index: the key condition's equalities, not its ranges", service: "dynamodb", operation: "Query",
			body: `{"TableName":"shop-inventory","IndexName":"gsi1","KeyConditionExpression":"#pk = :pk AND #sk >= :after",` +
				`"ExpressionAttributeNames":{"#pk":"gsi1pk","#sk":"gsi1sk"},"ExpressionAttributeValues":{":pk":{"S":"PRODUCTS"},":after":{"S":"2026"}}}`,
			want: []Need{{Action: "dynamodb:Query", Resource: "table/shop-inventory/index/gsi1", Keys: keys{{"gsi1pk": "PRODUCTS"}}}},
		},
		{
			name: "Query with value first and a plain name", service: "dynamodb", operation: "Query",
			body: `{"TableName":"t","KeyConditionExpression":":v=pk and begins_with(sk, :p)","ExpressionAttributeValues":{":v":{"S":"A"},":p":{"S":"B"}}}`,
			want: []Need{{Action: "dynamodb:Query", Resource: "table/t", Keys: keys{{"pk": "A"}}}},
		},
		{
			name: "Query with legacy KeyConditions", service: "dynamodb", operation: "Query",
			body: `{"TableName":"t","KeyConditions":{"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"A"}]},"sk":{"ComparisonOperator":"GT","AttributeValueList":[{"S":"0"}]}}}`,
			want: []Need{{Action: "dynamodb:Query", Resource: "table/t", Keys: keys{{"pk": "A"}}}},
		},
		{
			name: "Query without a usable key condition", service: "dynamodb", operation: "Query",
			body:    `{"TableName":"t","KeyConditionExpression":"#pk <= :v","ExpressionAttributeNames":{"#pk":"pk"},"ExpressionAttributeValues":{":v":{"S":"A"}}}`,
			want:    []Need{{Action: "dynamodb:Query", Resource: "table/t"}},
			problem: "no equality",
		},
		{
			name: "Scan touches no particular item", service: "dynamodb", operation: "Scan",
			body: `{"TableName":"t"}`,
			want: []Need{{Action: "dynamodb:Scan", Resource: "table/t"}},
		},
		{
			name: "BatchGetItem is checked per table", service: "dynamodb", operation: "BatchGetItem",
			body: `{"RequestItems":{"shop-users":{"Keys":[{"pk":{"S":"EMAIL#a"},"sk":{"S":"EMAIL"}},{"pk":{"S":"LOGIN#a"},"sk":{"S":"FAILURES"}}],"ConsistentRead":true},` +
				`"other":{"Keys":[{"pk":{"S":"K"}}]}}}`,
			want: []Need{
				{Action: "dynamodb:BatchGetItem", Resource: "table/other", Keys: keys{{"pk": "K"}}},
				{Action: "dynamodb:BatchGetItem", Resource: "table/shop-users", Keys: keys{{"pk": "EMAIL#a", "sk": "EMAIL"}, {"pk": "LOGIN#a", "sk": "FAILURES"}}},
			},
		},
		{
			name: "BatchWriteItem: puts and deletes", service: "dynamodb", operation: "BatchWriteItem",
			body: `{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"A"},"data":{"S":"x"}}}},{"DeleteRequest":{"Key":{"pk":{"S":"B"}}}}]}}`,
			want: []Need{{Action: "dynamodb:BatchWriteItem", Resource: "table/t", Keys: keys{{"pk": "A"}, {"pk": "B"}}}},
		},
		{
			name: "TransactWriteItems needs each item's own action on its own table", service: "dynamodb", operation: "TransactWriteItems",
			body: `{"TransactItems":[` +
				`{"Put":{"TableName":"shop-users","Item":{"pk":{"S":"USER#1"},"sk":{"S":"PROFILE"},"name":{"S":"Ada"}}}},` +
				`{"Put":{"TableName":"shop-users","Item":{"pk":{"S":"EMAIL#a"},"sk":{"S":"EMAIL"}}}},` +
				`{"Update":{"TableName":"other","Key":{"pk":{"S":"C"}}}},` +
				`{"Delete":{"TableName":"other","Key":{"pk":{"S":"D"}}}},` +
				`{"ConditionCheck":{"TableName":"third","Key":{"pk":{"S":"E"}},"ConditionExpression":"attribute_exists(pk)"}}]}`,
			want: []Need{
				{Action: "dynamodb:PutItem", Resource: "table/shop-users", Keys: keys{{"pk": "USER#1", "sk": "PROFILE"}}},
				{Action: "dynamodb:PutItem", Resource: "table/shop-users", Keys: keys{{"pk": "EMAIL#a", "sk": "EMAIL"}}},
				{Action: "dynamodb:UpdateItem", Resource: "table/other", Keys: keys{{"pk": "C"}}},
				{Action: "dynamodb:DeleteItem", Resource: "table/other", Keys: keys{{"pk": "D"}}},
				{Action: "dynamodb:ConditionCheckItem", Resource: "table/third", Keys: keys{{"pk": "E"}}},
			},
		},
		{
			name: "TransactGetItems needs GetItem per item", service: "dynamodb", operation: "TransactGetItems",
			body: `{"TransactItems":[{"Get":{"TableName":"t","Key":{"pk":{"S":"A"}}}}]}`,
			want: []Need{{Action: "dynamodb:GetItem", Resource: "table/t", Keys: keys{{"pk": "A"}}}},
		},
		{
			name: "a transaction item with two operations", service: "dynamodb", operation: "TransactWriteItems",
			body:    `{"TransactItems":[{"Put":{"TableName":"t","Item":{}},"Delete":{"TableName":"t","Key":{}}}]}`,
			problem: "has 2 operations",
		},
		{
			name: "an empty transaction", service: "dynamodb", operation: "TransactWriteItems",
			body: `{"TransactItems":[]}`, problem: "no items",
		},
		{
			name: "PartiQL is not parsed", service: "dynamodb", operation: "ExecuteStatement",
			body: `{"Statement":"SELECT * FROM t"}`, problem: "PartiQL",
		},
		{
			name: "other table operations", service: "dynamodb", operation: "DescribeTable",
			body: `{"TableName":"t"}`,
			want: []Need{{Action: "dynamodb:DescribeTable", Resource: "table/t"}},
		},
		{
			name: "an operation without a table", service: "dynamodb", operation: "ListTables",
			body: `{}`, problem: "without TableName",
		},
		{
			name: "not JSON", service: "dynamodb", operation: "GetItem",
			body: `{"TableName":`, problem: "not the JSON",
		},
		{
			name: "a secret by name", service: "secretsmanager", operation: "GetSecretValue",
			body: `{"SecretId":"shop/signing/users"}`,
			want: []Need{{Action: "secretsmanager:GetSecretValue", Resource: "secret:shop/signing/users"}},
		},
		{
			name: "a secret by ARN", service: "secretsmanager", operation: "GetSecretValue",
			body: `{"SecretId":"arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf"}`,
			want: []Need{{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf"}},
		},
		{
			name: "a secrets operation without SecretId", service: "secretsmanager", operation: "ListSecrets",
			body: `{}`, problem: "without SecretId",
		},
		{
			name: "a parameter whose name starts with /", service: "ssm", operation: "GetParameter",
			body: `{"Name":"/shop/jwks"}`,
			want: []Need{{Action: "ssm:GetParameter", Resource: "parameter/shop/jwks"}},
		},
		{
			name: "a parameter whose name does not", service: "ssm", operation: "GetParameter",
			body: `{"Name":"plain","WithDecryption":true}`,
			want: []Need{{Action: "ssm:GetParameter", Resource: "parameter/plain"}},
		},
		{
			name: "several parameters", service: "ssm", operation: "GetParameters",
			body: `{"Names":["/a","arn:aws:ssm:us-east-1:1:parameter/b"]}`,
			want: []Need{{Action: "ssm:GetParameters", Resource: "parameter/a"}, {Action: "ssm:GetParameters", Resource: "arn:aws:ssm:us-east-1:1:parameter/b"}},
		},
		{
			name: "PutEvents acts on each entry's bus, once", service: "events", operation: "PutEvents",
			body: `{"Entries":[{"EventBusName":"shop-events","Source":"shop.orders","DetailType":"t","Detail":"{}"},{"EventBusName":"shop-events"},` +
				`{"EventBusName":"arn:aws:events:us-east-1:1:event-bus/other"},{"Source":"s"}]}`,
			want: []Need{
				{Action: "events:PutEvents", Resource: "event-bus/shop-events"},
				{Action: "events:PutEvents", Resource: "arn:aws:events:us-east-1:1:event-bus/other"},
				{Action: "events:PutEvents", Resource: "event-bus/default"},
			},
		},
		{
			name: "PutEvents without entries", service: "events", operation: "PutEvents",
			body: `{"Entries":[]}`, problem: "no items",
		},
		{
			name: "an EventBridge operation the recorder does not know", service: "events", operation: "PutRule",
			body: `{"Name":"r"}`, problem: "not known",
		},
		{
			name: "SendMessage acts on the queue of the URL", service: "sqs", operation: "SendMessage",
			body: `{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/000000000000/shop-orders-relay-dlq","MessageBody":"x"}`,
			want: []Need{{Action: "sqs:SendMessage", Resource: "shop-orders-relay-dlq"}},
		},
		{
			name: "a batch is authorised as its single form", service: "sqs", operation: "ChangeMessageVisibilityBatch",
			body: `{"QueueUrl":"http://127.0.0.1:4566/000000000000/shop-notifications-notify","Entries":[{"Id":"1","ReceiptHandle":"r","VisibilityTimeout":30}]}`,
			want: []Need{{Action: "sqs:ChangeMessageVisibility", Resource: "shop-notifications-notify"}},
		},
		{
			name: "GetQueueUrl names the queue", service: "sqs", operation: "GetQueueUrl",
			body: `{"QueueName":"q"}`,
			want: []Need{{Action: "sqs:GetQueueUrl", Resource: "q"}},
		},
		{
			name: "an SQS operation without a queue", service: "sqs", operation: "ListQueues",
			body: `{}`, problem: "without QueueUrl",
		},
		{
			name: "GetShardIterator reads the stream", service: "dynamodb", operation: "GetShardIterator",
			body: `{"StreamArn":"arn:aws:dynamodb:us-east-1:0:table/shop-orders/stream/2026-01-01T00:00:00.000","ShardId":"s","ShardIteratorType":"TRIM_HORIZON"}`,
			want: []Need{{Action: "dynamodb:GetShardIterator", Resource: "arn:aws:dynamodb:us-east-1:0:table/shop-orders/stream/2026-01-01T00:00:00.000"}},
		},
		{
			name: "GetRecords reads the stream its iterator starts with", service: "dynamodb", operation: "GetRecords",
			body: `{"ShardIterator":"arn:aws:dynamodb:us-east-1:0:table/shop-orders/stream/2026-01-01T00:00:00.000|1|AAAA"}`,
			want: []Need{{Action: "dynamodb:GetRecords", Resource: "arn:aws:dynamodb:us-east-1:0:table/shop-orders/stream/2026-01-01T00:00:00.000"}},
		},
		{
			name: "GetRecords with an opaque iterator", service: "dynamodb", operation: "GetRecords",
			body: `{"ShardIterator":"AAAA"}`, problem: "no stream ARN",
		},
		{
			name: "ListStreams of a table", service: "dynamodb", operation: "ListStreams",
			body: `{"TableName":"shop-orders"}`,
			want: []Need{{Action: "dynamodb:ListStreams", Resource: "table/shop-orders/stream/*"}},
		},
		{
			name: "ListStreams of every table", service: "dynamodb", operation: "ListStreams",
			body: `{}`, problem: "every table",
		},
		{
			name: "a service the recorder does not know", service: "sns", operation: "Publish",
			body: `{"TopicArn":"arn:aws:sns:us-east-1:0:t"}`, problem: "not known",
		},
		{
			name: "unsigned", service: "", operation: "GetItem", body: `{}`, problem: "unsigned",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := describe(tt.service, tt.operation, []byte(tt.body))
			if tt.problem == "" && problem != "" || tt.problem != "" && !strings.Contains(problem, tt.problem) {
				t.Fatalf("problem %q, want one with %q", problem, tt.problem)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("needs\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMappingNeeds(t *testing.T) {
	queue := "arn:aws:sqs:us-east-1:0:shop-notifications-notify"
	stream := "arn:aws:dynamodb:us-east-1:0:table/shop-orders/stream/2026-01-01T00:00:00.000"
	dlq := "arn:aws:sqs:us-east-1:0:shop-orders-relay-dlq"
	got, err := MappingNeeds(queue, "")
	want := []Need{{Action: "sqs:ReceiveMessage", Resource: queue}, {Action: "sqs:DeleteMessage", Resource: queue}, {Action: "sqs:GetQueueAttributes", Resource: queue}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("queue mapping needs %+v (%v), want %+v", got, err, want)
	}
	got, err = MappingNeeds(stream, dlq)
	want = []Need{
		{Action: "dynamodb:DescribeStream", Resource: stream}, {Action: "dynamodb:GetRecords", Resource: stream},
		{Action: "dynamodb:GetShardIterator", Resource: stream}, {Action: "dynamodb:ListStreams", Resource: stream},
		{Action: "sqs:SendMessage", Resource: dlq},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("stream mapping needs %+v (%v), want %+v", got, err, want)
	}
	if _, err := MappingNeeds("arn:aws:kinesis:us-east-1:0:stream/s", ""); err == nil {
		t.Error("a Kinesis mapping's needs: no error")
	}
	if _, err := MappingNeeds(stream, "arn:aws:lambda:us-east-1:0:function:f"); err == nil {
		t.Error("a function as on-failure destination: no error")
	}
}
