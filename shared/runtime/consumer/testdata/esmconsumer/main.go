// Command esmconsumer is the consumer TestEventSourceMappingOnTheEmulator
// deploys behind a real SQS queue and event source mapping: it records
// every event it handles in its table (item SEEN#<id>: attempts, a set of
// one random id per handler run, so that a write the emulator applied and
// whose answer it lost, sent again by the SDK, is still one run) and fails
// an event whose id starts with "fail-once-" on its first attempt.
package main

import (
	"context"
	"crypto/rand"
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
				UpdateExpression:          aws.String("ADD attempts :run"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":run": &types.AttributeValueMemberSS{Value: []string{rand.Text()}}},
				ReturnValues:              types.ReturnValueUpdatedNew,
			})
			if err != nil {
				return err
			}
			if runs := out.Attributes["attempts"].(*types.AttributeValueMemberSS).Value; len(runs) == 1 && strings.HasPrefix(e.ID(), "fail-once-") {
				return errors.New("failing the first attempt, as asked")
			}
			return nil
		}, nil
	})
}
