package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// itemsPerRequest reads the AWS calls every function recorded since began
// (shared/awscalls: one line per request, with the keys of the items it
// touches) and returns the mean items per DynamoDB batch or transaction
// request, keyed as the traces name calls ("DynamoDB TransactWriteItems").
// A function whose log cannot be read is left out: the operation then
// counts 1 item per request.
func itemsPerRequest(ctx context.Context, s *benchStack, set *manifest.Set, began time.Time) map[string]float64 {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	var calls []awscalls.Call
	for _, fn := range set.Functions() {
		pages := cloudwatchlogs.NewFilterLogEventsPaginator(logs, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(naming.LogGroup(s.prefix, fn.Name)), StartTime: aws.Int64(began.UnixMilli()),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				break
			}
			for _, e := range page.Events {
				if c, ok := awscalls.ParseLine(aws.ToString(e.Message)); ok {
					calls = append(calls, c)
				}
			}
		}
	}
	return meanItems(calls)
}

// meanItems is itemsPerRequest's arithmetic: items of a request are the
// keys its needs name (a transaction names one need per item).
func meanItems(calls []awscalls.Call) map[string]float64 {
	items, requests := map[string]float64{}, map[string]float64{}
	for _, c := range calls {
		if c.Service != "dynamodb" || c.LocalOnly != "" {
			continue
		}
		switch c.Operation {
		case "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems":
		default:
			continue
		}
		n := 0
		for _, need := range c.Needs {
			n += max(1, len(need.Keys))
		}
		key := "DynamoDB " + c.Operation
		items[key] += float64(n)
		requests[key]++
	}
	for k := range items {
		items[k] /= requests[k]
	}
	return items
}
