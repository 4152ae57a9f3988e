package main

import (
	"sort"
	"strings"
)

// Public on-demand prices, us-east-1, in US dollars, as AWS's pricing pages
// publish them (priceDate; DynamoDB's on-demand prices are those after its
// 2024-11-01 cut). First tiers: the volumes of a million orders stay in them.
// Free tiers are left out: the figure is what the millionth order costs.
const (
	priceDate   = "2025-06 (aws.amazon.com/<service>/pricing), Step Functions and Lambda arm64 re-checked 2026-12-02; not re-checked on the day of the run"
	priceRegion = "us-east-1"

	lambdaPerGBSecondARM = 0.0000133334 // Lambda arm64 duration, per GB-s
	lambdaPerRequest     = 0.20 / 1e6   // Lambda requests
	apiGatewayHTTP       = 1.00 / 1e6   // API Gateway HTTP API, per request (first 300 M a month)
	dynamoPerWRU         = 0.625 / 1e6  // DynamoDB on-demand write request unit
	dynamoPerRRU         = 0.125 / 1e6  // DynamoDB on-demand read request unit
	sfnPerTransition     = 0.025 / 1e3  // Step Functions standard workflows, per state transition
	eventBridgePerEvent  = 1.00 / 1e6   // EventBridge custom events published (64 KB chunks)
	sqsPerRequest        = 0.40 / 1e6   // SQS standard queue requests (64 KB chunks)
	secretsPerCall       = 0.05 / 1e4   // Secrets Manager API calls
)

// dynamoUnits are the request units one DynamoDB request of operation op
// consumes, for items as small as the shop's (under 1 KB written, 4 KB
// read) and items items per request: a write is 1 WRU per item and 2 in a
// transaction, a read 1 RRU per item (strongly consistent: the upper bound
// for eventually consistent reads, which are half) and 2 in a transaction.
func dynamoUnits(op string, items float64) (wru, rru float64) {
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem":
		return 1, 0
	case "BatchWriteItem":
		return items, 0
	case "TransactWriteItems":
		return 2 * items, 0
	case "GetItem", "Query", "Scan":
		return 0, 1
	case "BatchGetItem":
		return 0, items
	case "TransactGetItems":
		return 0, 2 * items
	}
	return 0, 0
}

// lineItem is one line of an order's bill.
type lineItem struct {
	Name     string  `json:"name"`
	Quantity float64 `json:"quantity"` // per order
	Unit     string  `json:"unit"`
	Dollars  float64 `json:"dollarsPerMillionOrders"`
}

// bill is what a million orders of one kind cost.
type bill struct {
	Lines []lineItem `json:"lines"` // biggest first
	Total float64    `json:"dollarsPerMillionOrders"`
}

// costInput is one order's mean consumption (per order of its kind).
type costInput struct {
	Invocations  map[string]float64 // function -> invocations per order
	GBSeconds    float64
	Calls        map[string]float64 // "DynamoDB GetItem" -> requests per order
	ItemsPerCall map[string]float64 // "DynamoDB TransactWriteItems" -> items per request (1 when unknown)
	APIRequests  float64
	Transitions  float64
	SQSRequests  float64
}

// price turns one order's consumption into dollars per million orders.
func price(in costInput) bill {
	var b bill
	add := func(name string, q float64, unit string, each float64) {
		if q > 0 {
			b.Lines = append(b.Lines, lineItem{Name: name, Quantity: q, Unit: unit, Dollars: q * each * 1e6})
		}
	}
	var invocations, wru, rru, events, secrets float64
	for _, n := range in.Invocations {
		invocations += n
	}
	for call, n := range in.Calls {
		service, op, _ := strings.Cut(call, " ")
		switch service {
		case "DynamoDB":
			items := in.ItemsPerCall[call]
			if items == 0 {
				items = 1
			}
			w, r := dynamoUnits(op, items)
			wru, rru = wru+n*w, rru+n*r
		case "EventBridge":
			if op == "PutEvents" {
				events += n // the relays put one event per request (one per stream record)
			}
		case "Secrets Manager":
			secrets += n
		}
	}
	add("Lambda duration (arm64)", in.GBSeconds, "GB-s", lambdaPerGBSecondARM)
	add("Lambda requests", invocations, "invocations", lambdaPerRequest)
	add("API Gateway HTTP API", in.APIRequests, "requests", apiGatewayHTTP)
	add("DynamoDB writes", wru, "WRU", dynamoPerWRU)
	add("DynamoDB reads", rru, "RRU", dynamoPerRRU)
	add("Step Functions", in.Transitions, "transitions", sfnPerTransition)
	add("EventBridge", events, "events", eventBridgePerEvent)
	add("SQS", in.SQSRequests, "requests", sqsPerRequest)
	add("Secrets Manager", secrets, "calls", secretsPerCall)
	sort.SliceStable(b.Lines, func(i, j int) bool { return b.Lines[i].Dollars > b.Lines[j].Dollars })
	for _, l := range b.Lines {
		b.Total += l.Dollars
	}
	return b
}
