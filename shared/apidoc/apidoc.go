// Package apidoc is what a service says about its HTTP operations beyond
// its manifests, for the OpenAPI document (shared/openapi builds it; make
// generate writes it): per function, its request and response types, its
// success status, the statuses it answers itself and its headers. Each
// service package lists its operations in one function (apidoc.go):
//
//	func Operations() []apidoc.Operation {
//		return []apidoc.Operation{{
//			Function: "inventory-get", Response: Product{}, Status: http.StatusOK,
//			Statuses: errs.Statuses(ErrNotFound), ETag: true,
//		}}
//	}
//
// The package holds plain data and imports nothing, so a function that
// links its service package links nothing of the generator: only the
// generator calls Operations (a function the linker drops elsewhere).
package apidoc

// DocumentCacheControl is the Cache-Control of the OpenAPI document
// (functions/platform/openapi): public, as it holds no secret and is the
// same for everyone, for five minutes.
const DocumentCacheControl = "public, max-age=300"

// Idempotency says whether an operation reads the Idempotency-Key header
// (shared/idempotency): not at all, when sent, or always (a 400 without).
type Idempotency int

const (
	NoIdempotencyKey Idempotency = iota
	OptionalIdempotencyKey
	RequiredIdempotencyKey
)

// Operation documents the http function of the manifests named Function.
// Method, path and auth come from its function.yaml; the statuses every
// operation of the edge may answer (400 for a body or parameters, 401 and
// 403 for a protected route, 404 for a path id, 413 and 415 for a body,
// 429, 500, 503) are added by the builder.
type Operation struct {
	Function string // the manifest's function name: "inventory-create"
	Summary  string // a line; empty: the manifest's description

	// Request is a value of the request body's type (decoded by
	// httpapi.Decode; its validate tags become constraints), nil for no
	// body. RequestMedia, if set, maps each media type the operation
	// reads to the body's JSON Schema instead, for bodies no Go type
	// describes (CloudEvents, structured or in a batch).
	Request      any
	RequestMedia map[string]map[string]any
	// RequestFields adds JSON Schema keywords to properties of Request's
	// schema, by dotted path ("sku", "price.currency"), for what the
	// type's Validate method checks beyond its validate tags.
	RequestFields map[string]map[string]any
	// Response is a value of the success body's type (what the handler
	// passes to httpapi.WriteJSON or WriteVersioned), written as
	// application/json; ResponseMedia, if set, maps media types to
	// schemas instead.
	Response      any
	ResponseMedia map[string]map[string]any
	Status        int // the success status: 200, 201, 202

	// Statuses are the error statuses the operation answers beyond the
	// edge's common ones: its domain errors' (errmap.Table.Statuses) and
	// those its handler writes itself (a 403 of auth.SelfOrScope, a 422).
	Statuses []int

	Query       []Param     // query parameters
	Idempotency Idempotency // the Idempotency-Key header
	IfMatch     bool        // reads If-Match (428 without it, 412 when stale)
	ETag        bool        // the success response carries an ETag (httpapi.WriteVersioned)
	Location    bool        // the success response carries a Location (a created resource)
	// CacheControl is the success response's Cache-Control, if it sends one.
	CacheControl string
	// NotModified: the operation answers If-None-Match with 304 (no body)
	// when it matches the ETag.
	NotModified bool
}

// Param is a query parameter.
type Param struct {
	Name        string
	Description string
	Integer     bool // an integer from Min to Max; otherwise a string
	Min, Max    int
}
