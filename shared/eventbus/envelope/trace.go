package envelope

import (
	"context"
	"encoding/json"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
)

// TraceOf is the X-Ray trace header of the span that made e, from its
// traceparent (tracing.FromTraceParent): the upstream a relay's or a
// consumer's span for e continues. "" when e carries no valid traceparent.
func TraceOf(e event.Event) string {
	tp, _ := e.Extensions()[ExtTraceParent].(string)
	return tracing.FromTraceParent(tp)
}

// Annotate sets on ctx's invocation span what finds e's spans: its type
// and id, and the order and the user it is about when its data names them
// (orderId: the events of an order, its payment and its reservation;
// userId: a user's events and an order's), so that one order's journey is
// one filter (annotation.orderId) through its events too.
func Annotate(ctx context.Context, e event.Event) {
	tracing.Annotate(ctx, tracing.AnnotationEventType, e.Type())
	tracing.Annotate(ctx, tracing.AnnotationEventID, e.ID())
	about := about(e)
	if about.OrderID != "" {
		tracing.Annotate(ctx, tracing.AnnotationOrderID, about.OrderID)
	}
	if about.UserID != "" {
		tracing.Annotate(ctx, tracing.AnnotationUserID, about.UserID)
	}
}

// aboutFields are the ids an event's data may name, by the catalog's
// field names.
type aboutFields struct {
	OrderID string `json:"orderId"`
	UserID  string `json:"userId"`
}

// about reads the ids e's data names; none when its data is not a JSON
// object or the fields are not strings.
func about(e event.Event) aboutFields {
	var a aboutFields
	if json.Unmarshal(e.Data(), &a) != nil {
		return aboutFields{}
	}
	return a
}
