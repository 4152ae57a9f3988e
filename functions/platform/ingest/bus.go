package main

// TEMPORARY: a stand-in for shared/eventbus, which wp-pub builds; once it
// is merged, main takes eventbus.FromEnv() and this file goes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cloudevents/sdk-go/v2/event"
)

type bus struct {
	name   string
	client func() *eventbridge.Client
}

func busFromEnv(cfg aws.Config) (*bus, error) {
	name := os.Getenv("SHOP_EVENT_BUS")
	if name == "" {
		return nil, errors.New("SHOP_EVENT_BUS: required")
	}
	return &bus{name: name, client: sync.OnceValue(func() *eventbridge.Client { return eventbridge.NewFromConfig(cfg) })}, nil
}

// Publish puts the events on the bus in one PutEvents call (the handler
// sends at most ten).
func (b *bus) Publish(ctx context.Context, events ...event.Event) error {
	entries := make([]types.PutEventsRequestEntry, len(events))
	for i, e := range events {
		detail, err := json.Marshal(e)
		if err != nil {
			return err
		}
		entries[i] = types.PutEventsRequestEntry{EventBusName: aws.String(b.name), Source: aws.String(e.Source()),
			DetailType: aws.String(e.Type()), Detail: aws.String(string(detail))}
	}
	out, err := b.client().PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("put events: %d of %d failed", out.FailedEntryCount, len(entries))
	}
	return nil
}
