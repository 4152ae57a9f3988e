package ingestion

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/apidoc"
)

// Operations documents POST /v1/events for the OpenAPI document
// (shared/openapi; make generate). Its route and auth are in
// functions/platform/ingest/function.yaml. Binary mode (the data as the
// body, its attributes in ce-* headers) takes any media type and is not
// described beyond the summary; structured and batch mode are.
func Operations() []apidoc.Operation {
	event := map[string]any{
		"type":        "object",
		"description": "a structured CloudEvent (specversion 1.0) of a type of the event catalog (events/), registered for the caller",
		"required":    []any{"specversion", "id", "source", "type"},
		"properties": map[string]any{
			"specversion": map[string]any{"const": "1.0"},
			"id":          map[string]any{"type": "string", "minLength": 1},
			"source":      map[string]any{"type": "string", "minLength": 1},
			"type":        map[string]any{"type": "string", "minLength": 1},
		},
	}
	return []apidoc.Operation{{
		Function: "platform-ingest",
		Summary:  "Publish CloudEvents (binary, structured or batch mode) from a registered outside system.",
		RequestMedia: map[string]map[string]any{
			MediaStructured: event,
			MediaBatch:      {"type": "array", "minItems": 1, "maxItems": MaxBatch, "items": event},
		},
		Response: Response{}, Status: http.StatusAccepted,
		// 403: a source or type not registered for the caller.
		Statuses: []int{http.StatusForbidden},
	}}
}
