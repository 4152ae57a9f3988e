package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// Document serves doc, a JSON document fixed at build time (the OpenAPI
// document), with Cache-Control cacheControl and a strong ETag of its
// content; an If-None-Match that holds the ETag (or *) gets 304 and no body.
func Document(doc []byte, cacheControl string) http.Handler {
	sum := sha256.Sum256(doc)
	etag := strconv.Quote(hex.EncodeToString(sum[:16]))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", cacheControl)
		if httpapi.NoneMatch(r.Header.Values("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(doc)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(doc)
	})
}
