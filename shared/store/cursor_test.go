package store

import (
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	key := Item{"pk": S("PRODUCT#1"), "sk": S("PRODUCT"), "gsi1pk": S("PRODUCT"), "gsi1sk": S("2026#1")}
	c, err := EncodeCursor(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCursor(c, "pk", "sk", "gsi1pk", "gsi1sk")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, key) {
		t.Fatalf("round trip = %v, want %v", got, key)
	}
	if empty, err := EncodeCursor(nil); err != nil || empty != "" {
		t.Fatalf("EncodeCursor(nil) = %q, %v; want empty", empty, err)
	}
	if _, err := EncodeCursor(Item{"n": N(1)}); err == nil {
		t.Fatal("a numeric key attribute must be refused")
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct{ name, cursor string }{
		{"not base64", "%%%"},
		{"not json", enc("hello")},
		{"json array", enc(`["pk"]`)},
		{"missing attribute", enc(`{"pk":"A"}`)},
		{"extra attribute", enc(`{"pk":"A","sk":"B","x":"C"}`)},
		{"empty value", enc(`{"pk":"","sk":"B"}`)},
		{"number value", enc(`{"pk":1,"sk":"B"}`)},
		{"too long", enc(`{"pk":"` + string(make([]byte, 2000)) + `","sk":"B"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeCursor(tt.cursor, "pk", "sk"); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("err = %v, want ErrBadCursor", err)
			}
		})
	}
}

func FuzzDecodeCursor(f *testing.F) {
	good, _ := EncodeCursor(Item{"pk": S("A"), "sk": S("B")})
	f.Add(good)
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, cursor string) {
		key, err := DecodeCursor(cursor, "pk", "sk")
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if cursor != "" && len(key) != 2 {
			t.Fatalf("accepted cursor decodes to %d attributes", len(key))
		}
	})
}
