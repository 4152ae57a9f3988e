package users

import (
	"context"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/naming"
)

// The events the users service publishes (service.yaml publishes), each
// written to the outbox in the transaction that makes its change (store.go).
const (
	TypeUserCreated = "shop.user.created.v1"
	TypeUserUpdated = "shop.user.updated.v1"
)

// Service is this service's name, which is its events' source
// (naming.EventSource).
const Service = "users"

// userData is the data of user.created and user.updated: what other
// services keep of a user (orders the customer's name, notifications the
// marketing preference). Version is user.updated's only: the user's version
// after the change, so a consumer can ignore an older update arriving late.
type userData struct {
	UserID          string `json:"userId"`
	Name            string `json:"name"`
	MarketingEmails bool   `json:"marketingEmails"`
	Version         int64  `json:"version,omitempty"`
}

// userCreated is the event of u's registration; its id is the user's.
func userCreated(ctx context.Context, u User) (event.Event, error) {
	return envelope.New(ctx, envelope.Spec{
		Type: TypeUserCreated, Source: naming.EventSource(Service), Subject: u.ID,
		ID: envelope.ID(TypeUserCreated, u.ID), Time: u.CreatedAt,
		Data: userData{UserID: u.ID, Name: u.Name, MarketingEmails: u.Preferences.MarketingEmails},
	})
}

// userUpdated is the event of the change that left u at u.Version; its id
// is the user's and the version's.
func userUpdated(ctx context.Context, u User) (event.Event, error) {
	return envelope.New(ctx, envelope.Spec{
		Type: TypeUserUpdated, Source: naming.EventSource(Service), Subject: u.ID,
		ID: envelope.ID(TypeUserUpdated, u.ID, strconv.FormatInt(u.Version, 10)), Time: u.UpdatedAt,
		Data: userData{UserID: u.ID, Name: u.Name, MarketingEmails: u.Preferences.MarketingEmails, Version: u.Version},
	})
}
