package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shop-serverless/shop/shared/problem"
)

// MaxBodyBytes bounds what Decode reads. Requests to this API are small JSON
// documents; a larger body is a mistake or an attack, and reading it would cost
// memory a 128 MB function does not have.
const MaxBodyBytes = 1 << 20

// Decode reads r's body as one JSON value into dst (a non-nil pointer) and then
// checks it with Validate. Every failure the client can fix is an *Error:
//
//   - 415 unless the Content-Type is application/json or application/*+json
//     (a missing one included): a body is parsed only as what it says it is,
//     so a form post (curl -d without -H) or a text/plain "simple request"
//     from another site's page is refused before any of it is read;
//   - 413 if the body exceeds MaxBodyBytes;
//   - 400 if the body is empty or null, is not valid JSON (the detail names the byte
//     offset), has a field dst does not (DisallowUnknownFields: a typo must not be
//     silently ignored; the name is echoed clipped to maxEchoedName bytes), has a
//     value of the wrong type (the field is named by its JSON path), or has
//     anything but whitespace after the value;
//   - 400 with Fields from Validate.
//
// Only a programming error, such as dst not being a pointer, is a plain error (a
// 500). encoding/json reports the first type error only, and matches field names
// case-insensitively; both are its behaviour, kept.
//
// The body is read through http.MaxBytesReader without a ResponseWriter, so the
// server is not told to close the connection early; it drains or closes it as it
// would for any unread body.
func Decode(r *http.Request, dst any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := decodeJSON(body, dst); err != nil {
		return err
	}
	return Validate(dst)
}

func checkContentType(contentType string) error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mediaType == "application/json" ||
		strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json")) {
		return nil
	}
	// The header is not echoed: the detail is enough for the caller to act on.
	return &Error{Status: http.StatusUnsupportedMediaType,
		Header: http.Header{"Accept-Post": []string{"application/json"}},
		Detail: "Content-Type must be application/json", Err: fmt.Errorf("unsupported Content-Type %q", contentType)}
}

// readBody reads the whole body first, so that a size problem is always a 413 and
// not, depending on where the limit falls, a syntax error.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit), Err: err}
		}
		return nil, &Error{Status: http.StatusBadRequest, Detail: "the request body could not be read", Err: err}
	}
	return body, nil
}

func decodeJSON(body []byte, dst any) error {
	start := skipJSONSpace(body)
	if start == len(body) {
		return Errorf(http.StatusBadRequest, "request body is empty")
	}
	// encoding/json would accept null and leave dst untouched, turning "no request"
	// into a zero request.
	if rest := body[start:]; bytes.HasPrefix(rest, []byte("null")) && skipJSONSpace(rest[4:]) == len(rest)-4 {
		return Errorf(http.StatusBadRequest, "request body must not be null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, len(body))
	}
	end := int(dec.InputOffset())
	if trailing := end + skipJSONSpace(body[end:]); trailing < len(body) {
		return Errorf(http.StatusBadRequest,
			"request body must hold a single JSON value; unexpected data at byte offset %d", trailing)
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD and keeps the last of
	// a repeated key: either would store something the client did not mean.
	// U+FFFD itself is refused too: it is what invalid UTF-8 has already
	// become when a gateway passed the body on as text (API Gateway does).
	if !utf8.Valid(body) || bytes.ContainsRune(body, utf8.RuneError) {
		return Errorf(http.StatusBadRequest, "request body is not valid UTF-8 (or holds U+FFFD, what invalid UTF-8 becomes)")
	}
	if name, dup := duplicateKey(body); dup {
		return &Error{Status: http.StatusBadRequest, Detail: "request body repeats a field",
			Fields: []problem.FieldError{{Field: clip(name), Message: "given more than once"}}}
	}
	return nil
}

// duplicateKey reports the first object key that body (valid JSON) repeats
// within one object.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next string token of this object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true // this value ends; a key comes next
				}
				stack = append(stack, &frame{keys: map[string]bool{}, object: v == '{', key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.key {
				if top.keys[v] {
					return v, true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			if top != nil && top.object {
				top.key = true
			}
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
	}
}

func decodeError(err error, size int) error {
	var (
		syntaxErr    *json.SyntaxError
		typeErr      *json.UnmarshalTypeError
		invalidUnmar *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &syntaxErr):
		return &Error{Status: http.StatusBadRequest, Err: err,
			Detail: fmt.Sprintf("request body is not valid JSON: %s at byte offset %d", syntaxErr.Error(), syntaxErr.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Err: err,
			Detail: fmt.Sprintf("request body is not valid JSON: unexpected end at byte offset %d", size)}
	case errors.As(err, &typeErr):
		want := describeType(typeErr.Type, typeErr.Value)
		if typeErr.Field == "" {
			return &Error{Status: http.StatusBadRequest, Err: err, Detail: "request body must be " + want}
		}
		return &Error{Status: http.StatusBadRequest, Err: err,
			Detail: "request body has a field of the wrong type",
			Fields: []problem.FieldError{{Field: typeErr.Field, Message: "must be " + want}}}
	case errors.As(err, &invalidUnmar):
		return fmt.Errorf("httpapi: Decode: %w", err)
	}
	// encoding/json has no type for this one; its text is stable and tested for.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unquoted, uerr := strconv.Unquote(name); uerr == nil {
			name = unquoted
		}
		name = clip(name)
		return &Error{Status: http.StatusBadRequest, Err: err,
			Detail: "request body has an unknown field",
			Fields: []problem.FieldError{{Field: name, Message: "unknown field"}}}
	}
	// What is left comes from a type's own UnmarshalJSON or UnmarshalText (a UUID, a
	// time): the client's input is at fault, but the text is not ours to vouch for.
	return &Error{Status: http.StatusBadRequest, Err: err, Detail: "request body has a value that could not be decoded"}
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// describeType says what JSON a Go type accepts, in JSON's words rather than Go's.
func describeType(t reflect.Type, got string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	var want string
	switch t.Kind() {
	case reflect.Bool:
		want = "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.HasPrefix(got, "number") {
			bits := t.Bits()
			return fmt.Sprintf("an integer from %d to %d", int64(-1)<<(bits-1), int64(math.MaxInt64>>(64-bits)))
		}
		want = "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if strings.HasPrefix(got, "number") {
			return fmt.Sprintf("an integer from 0 to %d", uint64(math.MaxUint64>>(64-t.Bits())))
		}
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			want = "a base64 string"
		} else {
			want = "an array"
		}
	case reflect.Array:
		want = "an array"
	case reflect.Map, reflect.Struct:
		want = "an object"
	default:
		want = "a different type"
	}
	switch {
	case got == "string":
		return want + ", not a string"
	case got == "bool":
		return want + ", not a boolean"
	case got == "array":
		return want + ", not an array"
	case got == "object":
		return want + ", not an object"
	case strings.HasPrefix(got, "number"):
		return want + ", not a number"
	}
	return want
}

// maxEchoedName bounds a client-chosen name echoed back in a problem body: a
// 1 MiB field name must not come back as a 1 MiB error, nor fill the logs.
const maxEchoedName = 64

// clip shortens s to maxEchoedName bytes, on a rune boundary, marking the cut.
func clip(s string) string {
	if len(s) <= maxEchoedName {
		return s
	}
	cut := maxEchoedName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// skipJSONSpace counts the leading JSON whitespace bytes; bytes.TrimSpace would
// also skip characters a JSON parser rejects.
func skipJSONSpace(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == ' ' || b[n] == '\t' || b[n] == '\n' || b[n] == '\r') {
		n++
	}
	return n
}
