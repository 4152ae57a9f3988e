package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// HTTP caching of reads (RFC 9111, conditional requests per RFC 9110 13).
//
// A read answers with WriteCached: the body with a strong ETag and a
// Cache-Control, or 304 Not Modified (no body) when the client's
// If-None-Match already names that ETag.
//
//	httpapi.WriteCached(w, r, http.StatusOK, httpapi.VersionETag(p.Version), httpapi.CachePublicCatalog, p)
const (
	// CachePublicCatalog is for the catalog, read without a token: any cache
	// may keep it, for 5 seconds. Stock moves with every order and a price
	// may change, so a shared cache must not serve it for long; 5 s still
	// absorbs a burst of identical reads (a product page under load), and
	// nothing depends on its freshness: the order path reads prices and
	// reserves stock itself, against the table.
	CachePublicCatalog = "public, max-age=5"
	// CachePrivate is for everything read with a token: only the caller's
	// own cache (a browser) may store it, and must revalidate it on every use
	// (If-None-Match: 304 when it is unchanged). A shared cache (a CDN, a
	// proxy) must never store one user's data for another.
	CachePrivate = "private, no-cache"
)

// VersionETag is the strong ETag of a versioned resource: its version,
// quoted ("3"), as WriteVersioned sends and IfMatchVersion reads.
func VersionETag(version int64) string {
	return strconv.Quote(strconv.FormatInt(version, 10))
}

// BodyETag is the strong ETag of a representation without a version (a
// list page): a hash of its bytes, so the same body always has the same tag.
func BodyETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// WriteCached writes v as JSON with the given status, an ETag and
// cacheControl; etag "" means BodyETag of the JSON. When the request's
// If-None-Match matches the ETag (the weak comparison RFC 9110 13.1.2
// prescribes for it, "*" included), it answers 304 Not Modified instead,
// with the ETag and Cache-Control (RFC 9110 15.4.5) and no body. The 304
// applies to GET and HEAD only; any other method gets the full answer.
func WriteCached(w http.ResponseWriter, r *http.Request, status int, etag, cacheControl string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteJSON(w, status, v) // answers the encoding failure as a clean 500
		return
	}
	if etag == "" {
		etag = BodyETag(body)
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	if status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		NoneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // a failed write means the client has gone; nobody to tell
}

// NoneMatch reports whether the If-None-Match field values (one header or
// several, each "*" or a comma-separated list of entity tags) match etag,
// by weak comparison: W/"1" matches "1". A malformed member matches
// nothing, so the worst a garbled header earns is a full answer.
func NoneMatch(values []string, etag string) bool {
	want := opaqueTag(etag)
	if want == "" {
		return false
	}
	for _, v := range values {
		if strings.TrimSpace(v) == "*" {
			return true
		}
		for _, tag := range entityTags(v) {
			if opaqueTag(tag) == want {
				return true
			}
		}
	}
	return false
}

// entityTags splits a list of entity tags at the commas between them; a
// comma inside a quoted tag is part of it (etagc admits it).
func entityTags(list string) []string {
	var tags []string
	for rest := list; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return tags
		}
		start := 0
		if strings.HasPrefix(rest, "W/") {
			start = 2
		}
		if len(rest) <= start || rest[start] != '"' {
			// Not a tag: skip to the next comma.
			i := strings.IndexByte(rest, ',')
			if i < 0 {
				return tags
			}
			rest = rest[i:]
			continue
		}
		end := strings.IndexByte(rest[start+1:], '"')
		if end < 0 {
			return tags
		}
		tags = append(tags, rest[:start+1+end+1])
		rest = rest[start+1+end+1:]
	}
}

// opaqueTag is an entity tag without its weakness indicator, or "" when
// it is not an entity tag.
func opaqueTag(tag string) string {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
		return ""
	}
	return tag
}
