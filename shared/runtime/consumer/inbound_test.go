package consumer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/testenv"
)

func TestInboundGetsTheCheckedEvent(t *testing.T) {
	var got inbound.Event
	c := &Consumer{Handle: Inbound(func(_ context.Context, e inbound.Event) error { got = e; return nil })}
	if _, err := c.SQS(context.Background(), sqsBatch(envelope(catalogEvent(t, "shop.user.updated.v1", "u-1")))); err != nil {
		t.Fatal(err)
	}
	var data struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
	}
	if err := got.DataAs(&data); err != nil || data.Name != "Ada King" || data.Version != 2 {
		t.Errorf("data %+v %v", data, err)
	}
	if got.ID != "u-1" || got.Source != "shop.users" || got.Type != "shop.user.updated.v1" ||
		got.Subject != "0193f3a1-1111-7aaa-8bbb-0123456789ab" || !got.Time.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("event %+v", got)
	}
}

func TestInboundPermanentIsTheConsumers(t *testing.T) {
	err := errors.Join(errors.New("x"), inbound.Permanent(errors.New("bad data")))
	if !IsPermanent(err) || IsPermanent(errors.New("x")) || Permanent(nil) != nil {
		t.Error("consumer and inbound disagree on what is permanent")
	}
}

// Every event consumer links this package: it checks events with the
// catalog's validator, not with events/explain's, whose library compiles
// metaschemas in its package init (milliseconds of every cold start).
func TestLinksNoMetaschemaCompiler(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/runtime/consumer",
		"github.com/shop-serverless/shop/events/explain", "github.com/santhosh-tekuri/jsonschema")
}

func TestInboundLinksNoCloudEvents(t *testing.T) {
	// Service packages import inbound, and their HTTP functions with them.
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/runtime/consumer/inbound", "github.com/cloudevents", "github.com/json-iterator")
}
