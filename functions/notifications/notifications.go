// Package notifications is the notifications service: what the shop tells
// each user about their orders, payments and the products they wait for.
// It learns everything from events (notify.go, the consumer
// notifications-notify) and serves each user their own notifications
// (list.go, GET /v1/users/{id}/notifications). The DynamoDB code, with the
// projections of other services' data the notices need, is in store.go,
// and the domain errors, with their HTTP statuses, in errors.go.
package notifications

import "time"

// ScopeDeliver lets a sender deliver events to notifications-notify over
// HTTP (Knative); on Lambda, events arrive through its queue.
const ScopeDeliver = "notifications:deliver"

// Notification is one notice to a user, about an order or a product. Its
// id is the id of the event it came from: one event notifies a user once,
// however often it is delivered.
type Notification struct {
	ID        string    `json:"id" dynamodbav:"id"`
	UserID    string    `json:"-" dynamodbav:"userId"`
	Type      string    `json:"type" dynamodbav:"type"` // the event type it came from
	OrderID   string    `json:"orderId,omitempty" dynamodbav:"orderId,omitempty"`
	ProductID string    `json:"productId,omitempty" dynamodbav:"productId,omitempty"`
	Message   string    `json:"message" dynamodbav:"message"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"` // the event's time
}

// Preference is what the service knows of a user's marketing choice, and
// from which version of the user.
type Preference struct {
	MarketingEmails bool  `dynamodbav:"marketingEmails"`
	Version         int64 `dynamodbav:"userVersion"`
}
