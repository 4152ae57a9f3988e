package tracing

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The AWS SDK middleware: a subsegment around each operation call, retries
// included (Initialize runs once per call), and the trace header on the
// request (Build, before signing; SigV4 does not sign X-Amzn-Trace-Id),
// which is how SQS fills a message's AWSTraceHeader.

const (
	awsSpanID   = "shop/tracing.AWS"
	awsHeaderID = "shop/tracing.AWSHeader"
)

func addAWSMiddleware(stack *middleware.Stack) error {
	// After the client's own Initialize steps, so that older clients (SFN)
	// have registered their service metadata (the region); still once per
	// call, around the retries.
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(awsSpanID, awsSpan), middleware.After); err != nil {
		return err
	}
	return stack.Build.Add(middleware.BuildMiddlewareFunc(awsHeaderID, awsHeader), middleware.After)
}

func awsSpan(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	service, operation := serviceAndOperation(ctx)
	ctx, s := StartAWS(ctx, service, operation)
	if s == nil {
		return next.HandleInitialize(ctx, in)
	}
	// An unsampled span is never sent: its call's details (read from the
	// input by reflection) would be work on every call for nothing.
	if s.sampled {
		if region := awsmiddleware.GetRegion(ctx); region != "" {
			s.setAWS("region", region)
		}
		for field, key := range awsInputFields {
			if v := stringField(in.Parameters, field); v != "" {
				s.setAWS(key, v)
			}
		}
		if tables := tableNames(in.Parameters); len(tables) > 0 {
			s.setAWS("table_names", tables)
		}
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if s.sampled {
		recordAWSResult(s, md, err)
	}
	s.End(err)
	return out, md, err
}

// serviceAndOperation names the call: every client puts both in the
// context before its stack runs (smithy-go's values); the SDK's own
// stack values are the fallback.
func serviceAndOperation(ctx context.Context) (service, operation string) {
	service, operation = middleware.GetServiceID(ctx), middleware.GetOperationName(ctx)
	if service == "" {
		service = awsmiddleware.GetServiceID(ctx)
	}
	if operation == "" {
		operation = awsmiddleware.GetOperationName(ctx)
	}
	if service == "" {
		service = "AWS" // X-Ray refuses a span without a name
	}
	return service, operation
}

// awsInputFields are the input members X-Ray's own SDK instrumentation
// records, by the name it gives them.
var awsInputFields = map[string]string{
	"TableName":       "table_name",
	"QueueUrl":        "queue_url",
	"StateMachineArn": "state_machine_arn",
	"EventBusName":    "event_bus_name",
}

// stringField reads a *string member of an SDK input struct by name.
func stringField(params any, name string) string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.String {
		return ""
	}
	return f.Elem().String()
}

// tableNames are the tables a call on several names (DynamoDB's batch and
// transaction operations: RequestItems keys, TransactItems members'
// TableName), sorted, as X-Ray's own SDK records them; nil for others.
func tableNames(params any) []string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	seen := map[string]bool{}
	if m := v.Elem().FieldByName("RequestItems"); m.IsValid() && m.Kind() == reflect.Map && m.Type().Key().Kind() == reflect.String {
		for _, k := range m.MapKeys() {
			seen[k.String()] = true
		}
	}
	if items := v.Elem().FieldByName("TransactItems"); items.IsValid() && items.Kind() == reflect.Slice {
		for i := range items.Len() {
			item := items.Index(i)
			if item.Kind() != reflect.Struct {
				continue
			}
			for j := range item.NumField() { // Put, Update, Delete, ConditionCheck, Get
				if !item.Type().Field(j).IsExported() {
					continue // the SDK types embed an unexported marker
				}
				if name := stringField(item.Field(j).Interface(), "TableName"); name != "" {
					seen[name] = true
				}
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(seen))
}

func recordAWSResult(s *Span, md middleware.Metadata, err error) {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		s.setAWS("request_id", id)
	}
	if results, ok := retry.GetAttemptResults(md); ok && len(results.Results) > 1 {
		s.setAWS("retries", len(results.Results)-1)
	}
	status := 0
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		status = raw.StatusCode
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var reqIDErr interface{ ServiceRequestID() string }
	if errors.As(err, &reqIDErr) && reqIDErr.ServiceRequestID() != "" {
		s.setAWS("request_id", reqIDErr.ServiceRequestID())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if status != 0 {
		s.http = &httpInfo{Response: &httpResponse{Status: status}}
		s.classify(status)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if _, throttled := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]; throttled {
			// DynamoDB throttles with a 400.
			s.classified, s.error, s.throttle, s.fault = true, true, true, false
		}
	}
}

func awsHeader(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if h := Header(ctx); h != "" {
			req.Header.Set(HeaderName, h)
		}
	}
	return next.HandleBuild(ctx, in)
}
