package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	env := func(string) string { return "" }
	o, err := parse([]string{"-from", "2h", "-to", "2026-12-01T11:30:00Z", "-types", "shop.order.created.v1, shop.user.updated.v1"}, io.Discard, env, clock)
	if err != nil {
		t.Fatal(err)
	}
	if !o.from.Equal(now.Add(-2*time.Hour)) || !o.to.Equal(time.Date(2026, 12, 1, 11, 30, 0, 0, time.UTC)) {
		t.Errorf("window %v .. %v", o.from, o.to)
	}
	if strings.Join(o.types, ",") != "shop.order.created.v1,shop.user.updated.v1" {
		t.Errorf("types %q", o.types)
	}
	if o, err = parse([]string{"-from", "90m"}, io.Discard, env, clock); err != nil || !o.to.Equal(now) {
		t.Errorf("-to defaults to now: %v, %v", o.to, err)
	}
	for _, bad := range [][]string{
		{},                                // no -from
		{"-from", "yesterday"},            // neither a time nor a duration
		{"-from", "-5m"},                  // a negative duration
		{"-from", "1h", "-to", "2h"},      // from after to
		{"-from", "2026-12-01T13:00:00Z"}, // from after now
		{"-from", "1h", "-to", "2027-01-01T00:00:00Z"}, // to in the future
		{"-from", "1h", "extra"},
	} {
		if _, err := parse(bad, io.Discard, env, clock); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
