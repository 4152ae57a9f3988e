package runtime

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/shop-serverless/shop/shared/tracing"
)

// traced gives every request to h on Knative its invocation span,
// outermost: the caller's X-Amzn-Trace-Id is the upstream (a header with a
// Parent continues the caller's trace), and the span records the method,
// the path (never the query: it may carry what a trace must not) and the
// status of the answer. The probes are served outside it (withProbes).
func traced(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracing.Invocation(r.Context(), r.Header.Get(tracing.HeaderName))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 && sw.wrote {
				status = http.StatusOK
			}
			span.SetHTTP(r.Method, r.URL.Path, status)
			span.End(nil)
		}()
		h.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// statusWriter remembers the status a handler answered with. Unwrap lets
// http.ResponseController reach the server's writer (Flush, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stepEnvelope is what a saga step's raw input carries for the runtime
// rather than for the step: the trace header the state machine passes in
// every Task's Payload (the emulator does not trace Step Functions, so the
// trace travels in the data), and the order it is about, which the span
// is annotated with whatever the step's input type.
type stepEnvelope struct {
	traceHeader string
	orderID     string
}

// stepTraceHeaderMember is the member of a step's input that carries the
// trace header; it is taken out before the step's strict decode, so step
// input types need no field for it.
const stepTraceHeaderMember = "traceHeader"

// splitStepInput takes the traceHeader member out of a JSON object input
// and reads its string orderId member; any other input is returned as is.
func splitStepInput(raw []byte) ([]byte, stepEnvelope, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return raw, stepEnvelope{}, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return raw, stepEnvelope{}, nil // the strict decode reports it
	}
	var env stepEnvelope
	if id, ok := members["orderId"]; ok {
		_ = json.Unmarshal(id, &env.orderID) // not a string: nothing to annotate
	}
	th, ok := members[stepTraceHeaderMember]
	if !ok {
		return raw, env, nil
	}
	if err := json.Unmarshal(th, &env.traceHeader); err != nil {
		env.traceHeader = "" // null or not a string: no trace to continue, not a bad input
	}
	delete(members, stepTraceHeaderMember)
	rest, err := json.Marshal(members)
	if err != nil {
		return raw, stepEnvelope{}, err
	}
	return rest, env, nil
}
