// Package openapi builds the OpenAPI 3.1 document of the shop's HTTP API
// from the two places the API is defined: the manifests (every http
// route's method, path and auth) and each service's operation table
// (shared/apidoc: its Go request and response types, statuses and
// headers). Schemas come from the Go types through jsonschema.For (json
// tags: names, omitempty) with the validate tags mapped to JSON Schema
// keywords (shared/tagcheck's parser), so the document says what the code
// decodes and writes.
//
//	doc, err := openapi.Build(set, ops) // infra/generate writes it; a test fails while it is stale
//
// Only generators and tests import this package; functions never do.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tagcheck"
)

// Function is the manifest name of the function that serves the document,
// and Path its route; Self documents it.
const (
	Function = "platform-openapi"
	Path     = "/v1/openapi.json"
)

// Self is the operation of the function that serves the document.
func Self() apidoc.Operation {
	return apidoc.Operation{
		Function: Function, Summary: "This document: the OpenAPI 3.1 description of the shop's HTTP API.",
		ResponseMedia: map[string]map[string]any{"application/json": {
			"type": "object", "required": []any{"openapi", "info", "paths"},
			"properties": map[string]any{"openapi": map[string]any{"type": "string", "pattern": `^3\.1\.`}},
		}},
		Status: http.StatusOK, ETag: true, CacheControl: apidoc.DocumentCacheControl, NotModified: true,
	}
}

// Documented reports whether fn's route belongs in the document: an http
// function of a service that is part of the shop. A local-only service is
// a test double of a system outside the shop (the payment provider's
// simulator): its routes are that system's API, not the shop's.
func Documented(svc *manifest.Service, fn *manifest.Function) bool {
	return fn.Kind == manifest.KindHTTP && !svc.LocalOnly
}

// Statuses the API Gateway may answer itself, before or instead of a
// function, with its own body ({"message": "..."}, application/json): the
// authorizer's refusals (401, 403), throttling (429), a failed or
// timed-out integration (500, 503), a body over its limit (413).
var gatewayStatuses = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
	http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}

// Build returns the document (indented JSON, ending in a newline) for the
// documented routes of set, each described by the operation of ops that
// names its function. A documented route without an operation, an
// operation without a route, or two operations for one function is an
// error.
func Build(set *manifest.Set, ops []apidoc.Operation) ([]byte, error) {
	byFn := map[string]apidoc.Operation{}
	for _, op := range ops {
		if _, dup := byFn[op.Function]; dup {
			return nil, fmt.Errorf("openapi: two operations for %s", op.Function)
		}
		byFn[op.Function] = op
	}
	b := &builder{schemas: map[string]*jsonschema.Schema{}, responses: map[string]any{}, names: map[string]reflect.Type{}}
	problemSchema, err := b.schema(reflect.TypeFor[problem.Details](), false)
	if err != nil {
		return nil, err
	}
	b.schemas["Problem"] = problemSchema
	paths := map[string]map[string]any{}
	for _, svc := range set.Services {
		for _, fn := range svc.Functions {
			if !Documented(svc, fn) {
				continue
			}
			op, ok := byFn[fn.Name]
			if !ok {
				return nil, fmt.Errorf("openapi: route %s (%s) has no operation: add it to %s's Operations", fn.HTTP.RouteKey(), fn.Name, svc.Dir)
			}
			delete(byFn, fn.Name)
			o, err := b.operation(svc, fn, op)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s: %w", fn.Name, err)
			}
			if paths[fn.HTTP.Path] == nil {
				paths[fn.HTTP.Path] = map[string]any{}
			}
			paths[fn.HTTP.Path][strings.ToLower(fn.HTTP.Method)] = o
		}
	}
	if len(byFn) > 0 {
		return nil, fmt.Errorf("openapi: operations name no documented http route: %s", strings.Join(slices.Sorted(maps.Keys(byFn)), ", "))
	}
	components := map[string]any{
		"schemas":   b.schemas,
		"responses": b.responses,
		// Named without "token": a JSON key holding "token" reads as a
		// secret to the log redaction (shared/log.Sensitive) and to the
		// end-to-end secret scan, and a scope name is no secret.
		"securitySchemes": map[string]any{
			"userAuth": map[string]any{
				"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "A user token, from POST /v1/auth/login. Routes with auth user take it (or a service token); the handler then allows the user's own resources only.",
			},
			"serviceAuth": map[string]any{
				"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "A service token (make token, or a service's issuer). The scopes an operation lists in its security requirement " +
					"(OpenAPI 3.1 allows role names for non-OAuth2 schemes) are the scopes the token must carry; x-shop-auth repeats the manifest's auth.",
			},
		},
		"headers": headerComponents(),
	}
	b.schemas["GatewayMessage"] = &jsonschema.Schema{
		Type: "object", Required: []string{"message"},
		Description: "What API Gateway itself answers (its authorizer's refusals, throttling, a failed integration): not a problem body.",
		Properties:  map[string]*jsonschema.Schema{"message": {Type: "string"}},
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "shop",
			"version": "1",
			"description": "The shop's HTTP API, generated by make generate from the manifests (functions/*/*/function.yaml) " +
				"and the Go request and response types (each service's Operations, shared/apidoc). Errors are RFC 9457 problem " +
				"bodies (application/problem+json), except what API Gateway answers itself (GatewayMessage).",
		},
		"paths":      paths,
		"components": components,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type builder struct {
	schemas   map[string]*jsonschema.Schema
	responses map[string]any          // error responses, by status
	names     map[string]reflect.Type // component name -> the type it describes
}

func headerComponents() map[string]any {
	str := func(desc string, extra ...any) map[string]any {
		s := map[string]any{"type": "string"}
		for i := 0; i+1 < len(extra); i += 2 {
			s[extra[i].(string)] = extra[i+1]
		}
		return map[string]any{"description": desc, "schema": s}
	}
	return map[string]any{
		"X-Correlation-Id": str("Ties together everything one user action caused: the caller's, when valid, otherwise a new one."),
		"X-Request-Id":     str("The id of this request (API Gateway's on AWS): quote it to support."),
		"ETag":             str("The resource's version, a strong ETag (\"3\"): send it back in If-Match to change the resource."),
		"Location":         str("The created resource."),
		"Retry-After":      str("Seconds to wait before retrying.", "pattern", `^[0-9]+$`),
		"Cache-Control":    str("How long, and by whom, the response may be cached."),
		"WWW-Authenticate": str("The bearer challenge (RFC 6750)."),
		"Accept-Post":      str("The media types the operation accepts."),
	}
}

func headerRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/headers/" + name}
}

var pathParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

func (b *builder) operation(svc *manifest.Service, fn *manifest.Function, op apidoc.Operation) (map[string]any, error) {
	h := fn.HTTP
	summary := op.Summary
	if summary == "" {
		summary = fn.Description
	}
	o := map[string]any{
		"operationId": fn.Name,
		"summary":     summary,
		"tags":        []string{svc.Name},
		"x-shop-auth": h.Auth,
	}
	statuses := map[int]bool{http.StatusTooManyRequests: true, http.StatusInternalServerError: true, http.StatusServiceUnavailable: true}
	for _, s := range op.Statuses {
		statuses[s] = true
	}
	switch {
	case h.Auth == manifest.AuthNone:
		o["security"] = []any{}
	case h.Auth == manifest.AuthUser:
		o["security"] = []any{map[string]any{"userAuth": []string{}}, map[string]any{"serviceAuth": []string{}}}
		statuses[http.StatusUnauthorized], statuses[http.StatusForbidden] = true, true
	case strings.HasPrefix(h.Auth, "scope:"):
		o["security"] = []any{map[string]any{"serviceAuth": []string{strings.TrimPrefix(h.Auth, "scope:")}}}
		statuses[http.StatusUnauthorized], statuses[http.StatusForbidden] = true, true
	default:
		return nil, fmt.Errorf("auth %q", h.Auth)
	}

	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(h.Path, -1) {
		params = append(params, map[string]any{
			"name": m[1], "in": "path", "required": true,
			"description": "a resource id: a UUID, lower case (anything else is a 404)",
			"schema":      map[string]any{"type": "string"},
		})
		statuses[http.StatusNotFound] = true
	}
	for _, q := range op.Query {
		s := map[string]any{"type": "string"}
		if q.Integer {
			s = map[string]any{"type": "integer", "minimum": q.Min, "maximum": q.Max}
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": s})
		statuses[http.StatusBadRequest] = true
	}
	if op.Idempotency != apidoc.NoIdempotencyKey {
		params = append(params, map[string]any{
			"name": httpapi.HeaderIdempotencyKey, "in": "header", "required": op.Idempotency == apidoc.RequiredIdempotencyKey,
			"description": "Makes the request safe to retry: a retry with the same key and body gets the first answer (409 while it is in progress, 422 with another body).",
			"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "pattern": `^[\x20-\x7E]+$`},
		})
		statuses[http.StatusBadRequest], statuses[http.StatusConflict], statuses[http.StatusUnprocessableEntity] = true, true, true
	}
	if op.IfMatch {
		params = append(params, map[string]any{
			"name": "If-Match", "in": "header", "required": true,
			"description": "The ETag of the version the change is based on (428 without it, 412 when it is no longer current).",
			"schema":      map[string]any{"type": "string", "pattern": `^"?[1-9][0-9]{0,17}"?$`},
		})
		statuses[http.StatusBadRequest], statuses[http.StatusPreconditionFailed], statuses[http.StatusPreconditionRequired] = true, true, true
	}
	if op.NotModified {
		params = append(params, map[string]any{
			"name": "If-None-Match", "in": "header", "description": "An ETag you hold: 304 when it is current.",
			"schema": map[string]any{"type": "string"},
		})
	}
	params = append(params, map[string]any{
		"name": httpapi.HeaderCorrelationID, "in": "header", "description": "Continue a correlation: 1 to 128 of [A-Za-z0-9._:-].",
		"schema": map[string]any{"type": "string"},
	})
	o["parameters"] = params

	if op.Request != nil || op.RequestMedia != nil {
		content := map[string]any{}
		if op.Request != nil {
			ref, err := b.component(reflect.TypeOf(op.Request), true, op.RequestFields)
			if err != nil {
				return nil, err
			}
			content["application/json"] = map[string]any{"schema": ref}
		}
		for media, s := range op.RequestMedia {
			content[media] = map[string]any{"schema": s}
		}
		o["requestBody"] = map[string]any{"required": true, "content": content}
		statuses[http.StatusBadRequest], statuses[http.StatusRequestEntityTooLarge], statuses[http.StatusUnsupportedMediaType] = true, true, true
	}

	responses := map[string]any{}
	okHeaders := map[string]any{"X-Correlation-Id": headerRef("X-Correlation-Id"), "X-Request-Id": headerRef("X-Request-Id")}
	if op.ETag {
		okHeaders["ETag"] = headerRef("ETag")
	}
	if op.Location {
		okHeaders["Location"] = headerRef("Location")
	}
	if op.CacheControl != "" {
		okHeaders["Cache-Control"] = headerRef("Cache-Control")
	}
	if op.Status < 200 || op.Status > 299 {
		return nil, fmt.Errorf("success status %d", op.Status)
	}
	okResp := map[string]any{"description": http.StatusText(op.Status), "headers": okHeaders}
	switch {
	case op.Response != nil:
		ref, err := b.component(reflect.TypeOf(op.Response), false, nil)
		if err != nil {
			return nil, err
		}
		okResp["content"] = map[string]any{"application/json": map[string]any{"schema": ref}}
	case op.ResponseMedia != nil:
		content := map[string]any{}
		for media, s := range op.ResponseMedia {
			content[media] = map[string]any{"schema": s}
		}
		okResp["content"] = content
	}
	responses[strconv.Itoa(op.Status)] = okResp
	if op.NotModified {
		responses["304"] = map[string]any{"description": "Not Modified: the ETag sent in If-None-Match is current (no body).", "headers": okHeaders}
	}
	for _, s := range slices.Sorted(maps.Keys(statuses)) {
		if s < 400 || s > 599 {
			return nil, fmt.Errorf("error status %d", s)
		}
		name := strconv.Itoa(s)
		if b.responses[name] == nil {
			b.responses[name] = errorResponse(s)
		}
		responses[name] = map[string]any{"$ref": "#/components/responses/" + name}
	}
	o["responses"] = responses
	return o, nil
}

// errorResponse is the response of error status s, a component every
// operation answering s refers to.
func errorResponse(s int) map[string]any {
	headers := map[string]any{"X-Correlation-Id": headerRef("X-Correlation-Id"), "X-Request-Id": headerRef("X-Request-Id")}
	switch s {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		headers["Retry-After"] = headerRef("Retry-After")
	case http.StatusUnauthorized:
		headers["WWW-Authenticate"] = headerRef("WWW-Authenticate")
	case http.StatusUnsupportedMediaType:
		headers["Accept-Post"] = headerRef("Accept-Post")
	}
	content := map[string]any{problem.ContentType: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}
	if slices.Contains(gatewayStatuses, s) {
		content["application/json"] = map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/GatewayMessage"}}
	}
	return map[string]any{"description": http.StatusText(s), "content": content, "headers": headers}
}

// component adds the schema of t (a named struct type) to the components
// and returns a reference to it. request: t is decoded from a request,
// whose required properties are those the validate tags require, not
// those without omitempty.
func (b *builder) component(t reflect.Type, request bool, fields map[string]map[string]any) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	name := strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
	if t.Name() == "" {
		return nil, fmt.Errorf("%v: an operation's body must be a named type", t)
	}
	if prev, ok := b.names[name]; ok {
		if prev != t {
			return nil, fmt.Errorf("component %s names both %v and %v", name, prev, t)
		}
	} else {
		s, err := b.schema(t, request)
		if err != nil {
			return nil, err
		}
		b.names[name] = t
		b.schemas[name] = s
	}
	for path, keywords := range fields {
		if err := addKeywords(b.schemas[name], path, keywords); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}, nil
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	moneyType = reflect.TypeFor[money.Money]()
)

// addKeywords adds JSON Schema keywords to the property of s at path
// (dotted), through JSON: the keywords are the document's words.
func addKeywords(s *jsonschema.Schema, path string, keywords map[string]any) error {
	for _, name := range strings.Split(path, ".") {
		if s.Properties[name] == nil {
			return fmt.Errorf("no property %q (of %s)", name, path)
		}
		s = s.Properties[name]
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	maps.Copy(m, keywords)
	if raw, err = json.Marshal(m); err != nil {
		return err
	}
	var merged jsonschema.Schema
	if err := json.Unmarshal(raw, &merged); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	*s = merged
	return nil
}

// Schema returns the JSON Schema of Go type t as the document describes
// it (request: as a request body, see component). Tests use it to check a
// type's JSON against its schema.
func Schema(t reflect.Type, request bool) (*jsonschema.Schema, error) {
	return (&builder{}).schema(t, request)
}

func (b *builder) schema(t reflect.Type, request bool) (*jsonschema.Schema, error) {
	s, err := jsonschema.ForType(t, &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		timeType: {Type: "string", Format: "date-time"},
	}})
	if err != nil {
		return nil, err
	}
	// A validate tag is what a request must hold; a response is described
	// by its shape alone (a money.Money's currency is required of a client,
	// and a handler never writes a zero one, but the type does not say so).
	if request {
		if err := constrainType(t, s); err != nil {
			return nil, fmt.Errorf("%v: %w", t, err)
		}
	}
	return s, nil
}

// JSONName is the name encoding/json gives field f, and false when it
// omits it ("-" or unexported).
func JSONName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

var names = tagcheck.New(func(f reflect.StructField) string {
	name, _ := JSONName(f)
	return name
})

// constrainType walks t, a request's type, and its schema s together,
// adding what each field's validate tag says.
func constrainType(t reflect.Type, s *jsonschema.Schema) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == timeType {
			return nil
		}
		if t == moneyType {
			// Money.Validate accepts the currencies shared/money knows.
			for _, c := range money.Currencies() {
				s.Properties["currency"].Enum = append(s.Properties["currency"].Enum, c)
			}
		}
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous {
				continue
			}
			name, ok := JSONName(f)
			if !ok || s.Properties[name] == nil {
				continue
			}
			rules, err := tagcheck.Parse(f.Tag.Get("validate"))
			if err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			ps := s.Properties[name]
			if err := constrain(ps, f.Type, rules); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			if err := constrainType(f.Type, ps); err != nil {
				return err
			}
		}
		// What a request must send: the fields whose zero value (what the
		// decoder leaves for an absent one) fails its tags.
		var required []string
		for _, fail := range names.Struct(reflect.New(t).Interface()) {
			top, _, _ := strings.Cut(fail.Path, ".")
			top, _, _ = strings.Cut(top, "[")
			if !slices.Contains(required, top) {
				required = append(required, top)
			}
		}
		s.Required = required
	case reflect.Slice, reflect.Array:
		return constrainType(t.Elem(), s.Items)
	case reflect.Map:
		return constrainType(t.Elem(), s.AdditionalProperties)
	}
	return nil
}

// constrain adds to s (the schema of a value of type t) what rules say.
func constrain(s *jsonschema.Schema, t reflect.Type, rules []tagcheck.Rule) error {
	pointer := false
	for t.Kind() == reflect.Pointer {
		pointer = true
		t = t.Elem()
	}
	kind := t.Kind()
	isNum := kind >= reflect.Int && kind <= reflect.Float64
	isStr := kind == reflect.String
	isList := kind == reflect.Slice || kind == reflect.Array
	num := func(r tagcheck.Rule) (float64, error) {
		f, err := strconv.ParseFloat(r.Param, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%s: %w", r.Name, r.Param, err)
		}
		return f, nil
	}
	// bound sets a lower (lower) or upper bound of n on the value, its length or its items.
	bound := func(n float64, lower, exclusive bool) {
		switch {
		case isNum && lower && exclusive:
			s.ExclusiveMinimum = &n
		case isNum && lower:
			s.Minimum = &n
		case isNum && exclusive:
			s.ExclusiveMaximum = &n
		case isNum:
			s.Maximum = &n
		case isStr || isList:
			c := int(n)
			if exclusive && lower {
				c++
			} else if exclusive {
				c--
			}
			switch {
			case isStr && lower:
				s.MinLength = &c
			case isStr:
				s.MaxLength = &c
			case lower:
				s.MinItems = &c
			default:
				s.MaxItems = &c
			}
		}
	}
	for i, r := range rules {
		switch r.Name {
		case "omitempty":
		case "dive":
			if s.Items == nil {
				return fmt.Errorf("dive on %v", t)
			}
			return constrain(s.Items, t.Elem(), rules[i+1:])
		case "required":
			// On a pointer: present (the schema's required says it); on a
			// struct: not all zero (its fields' own tags say more).
			switch {
			case pointer:
			case isStr || isList:
				if (isStr && s.MinLength == nil) || (isList && s.MinItems == nil) {
					bound(1, true, false)
				}
			case isNum:
				s.Not = &jsonschema.Schema{Const: jsonschema.Ptr[any](0)}
			}
		case "min", "gte", "max", "lte", "gt", "lt", "len":
			n, err := num(r)
			if err != nil {
				return err
			}
			switch r.Name {
			case "min", "gte":
				bound(n, true, false)
			case "max", "lte":
				bound(n, false, false)
			case "gt":
				bound(n, true, true)
			case "lt":
				bound(n, false, true)
			case "len":
				bound(n, true, false)
				bound(n, false, false)
			}
		case "oneof":
			for _, w := range r.Words {
				if isNum {
					n, err := strconv.ParseFloat(w, 64)
					if err != nil {
						return err
					}
					s.Enum = append(s.Enum, n)
				} else {
					s.Enum = append(s.Enum, w)
				}
			}
		case "email":
			s.Format = "email"
		case "e164":
			s.Pattern = `^\+[1-9][0-9]{1,14}$`
		case "iso4217":
			s.Pattern = `^[A-Z]{3}$`
		case "http_url":
			s.Format = "uri"
			s.Pattern = `^https?://`
		case "url":
			s.Format = "uri"
		case "uuid":
			s.Format = "uuid"
		case "printascii":
			s.Pattern = `^[\x20-\x7E]*$`
		case "bcp47_language_tag", "excludesall":
			// No JSON Schema keyword says it: the schema is looser than
			// the check, and the 400 it answers is documented.
		default:
			return fmt.Errorf("validate tag %q has no JSON Schema mapping: add one here", r.Name)
		}
	}
	return nil
}
