package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrBadCursor is returned for a pagination cursor this package did not make
// (or made for another key shape).
var ErrBadCursor = errors.New("store: invalid cursor")

const maxCursorLen = 1024

// EncodeCursor turns a LastEvaluatedKey into an opaque, URL-safe cursor.
// Only string key attributes are supported, which is what our tables use.
func EncodeCursor(lastKey Item) (string, error) {
	if len(lastKey) == 0 {
		return "", nil
	}
	plain := make(map[string]string, len(lastKey))
	for k, v := range lastKey {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("store: cursor key %q is not a string", k)
		}
		plain[k] = s.Value
	}
	b, err := json.Marshal(plain) // map keys are sorted: stable output
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeCursor reverses EncodeCursor, accepting only a cursor whose
// attributes are exactly attrs (so a caller cannot smuggle in a key for
// another index or item type).
func DecodeCursor(cursor string, attrs ...string) (Item, error) {
	if cursor == "" {
		return nil, nil
	}
	if len(cursor) > maxCursorLen {
		return nil, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, ErrBadCursor
	}
	var plain map[string]string
	if err := json.Unmarshal(b, &plain); err != nil {
		return nil, ErrBadCursor
	}
	got := make([]string, 0, len(plain))
	for k, v := range plain {
		if v == "" {
			return nil, ErrBadCursor
		}
		got = append(got, k)
	}
	want := slices.Clone(attrs)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		return nil, ErrBadCursor
	}
	key := make(Item, len(plain))
	for k, v := range plain {
		key[k] = S(v)
	}
	return key, nil
}
