// Command esmconsumer is the consumer TestEventSourceMappingOnTheEmulator
// deploys behind a real SQS queue and event source mapping: it records
// every event it handles in its table (item SEEN#<id>: attempts, the
// handler's runs) and fails an event whose id starts with "fail-once-" on
// its first attempt.
package main

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/runtime/consumer"
	"github.com/shop-serverless/shop/shared/store"
)

func main() {
	consumer.Start("test:deliver", func(d consumer.Deps) (consumer.Handler, error) {
		return func(ctx context.Context, e event.Event) error {
			out, err := d.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(d.Config.Table),
				Key:                       store.Key("SEEN#"+e.ID(), "SEEN"),
				UpdateExpression:          aws.String("ADD attempts :one"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": store.N(1)},
				ReturnValues:              types.ReturnValueUpdatedNew,
			})
			if err != nil {
				return err
			}
			if n := out.Attributes["attempts"].(*types.AttributeValueMemberN).Value; n == "1" && strings.HasPrefix(e.ID(), "fail-once-") {
				return errors.New("failing the first attempt, as asked")
			}
			return nil
		}, nil
	})
}
