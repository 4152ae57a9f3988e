package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/problem"
)

// PathID returns the path value name when it is a canonical (lower-case,
// hyphenated) UUID, the form every resource id takes. Anything else cannot
// name a resource, so it is the 404 the lookup would give, naming what.
func PathID(r *http.Request, name, what string) (string, error) {
	id := r.PathValue(name)
	if !IsID(id) {
		return "", Errorf(http.StatusNotFound, "%s %q not found", what, id)
	}
	return id, nil
}

// IsID reports whether s is a resource id as the services make them: a
// UUID in its canonical form (lower case, hyphenated).
func IsID(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil && strings.ToLower(s) == s
}

// Limit reads a list's page size from the query parameter limit: def
// without it, and a 400 naming the field unless it is an integer from 1 to
// max.
func Limit(r *http.Request, def, max int) (int32, error) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return int32(def), nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, &Error{Status: http.StatusBadRequest, Detail: fmt.Sprintf("limit must be an integer from 1 to %d", max),
			Fields: []problem.FieldError{{Field: "limit", Message: fmt.Sprintf("must be 1..%d", max)}}}
	}
	return int32(n), nil
}

// WriteVersioned writes v as JSON with its version as a strong ETag ("3"),
// which clients send back in If-Match (see IfMatchVersion).
func WriteVersioned(w http.ResponseWriter, status int, version int64, v any) {
	w.Header().Set("ETag", VersionETag(version))
	WriteJSON(w, status, v)
}

// IfMatchVersion reads the version a conditional update is based on from
// If-Match, accepting the ETag WriteVersioned sends ("3") and a bare number
// (3). Without the header: 428, so two editors cannot silently overwrite
// each other; an unreadable one: 400.
func IfMatchVersion(r *http.Request) (int64, error) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" {
		return 0, Errorf(http.StatusPreconditionRequired, "send If-Match with the version you read (the ETag of the resource)")
	}
	v, err := strconv.ParseInt(strings.Trim(raw, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, Errorf(http.StatusBadRequest, "If-Match must be a version number such as \"3\"")
	}
	return v, nil
}
