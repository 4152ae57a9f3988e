package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/shop-serverless/shop/shared/tracing"
)

// maxStepInputBytes bounds what one Knative step invocation may make us
// buffer. Step Functions caps state payloads at 256 KiB, so nothing legitimate
// comes close.
const maxStepInputBytes = 1 << 20

// stepError is the body of a failed step on Knative: the same fields, and the
// same errorType, that a Lambda function error carries into Step Functions, so
// an orchestrator's catch rules work on either runtime.
type stepError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// TransientErrorType is the errorType Step Functions sees for a step error
// that carries no stable name of its own: a DynamoDB timeout, a throttled
// call, a bug. The Go type of such an error ("wrapError", "OperationError")
// says nothing a Retry could rely on, so every one of them reports this one
// name, which a state machine retries with backoff and a cap, then catches.
const TransientErrorType = "Transient"

// stableError makes an error of a step reach Step Functions under a stable
// type name: an error that carries one (an ErrorType() string method, as
// every service's domain errors have: see shared/errmap), wherever it sits
// in the chain, keeps it; every other error is TransientErrorType. A Catch
// can then tell ErrInsufficientStock from ErrNotFound although both are
// values of one Go type, and a Retry lists the transient names only.
// nil stays nil, and an error already named stays as it is.
func stableError(err error) error {
	if err == nil {
		return nil
	}
	if named, ok := err.(messages.InvokeResponse_Error); ok {
		return named
	}
	name := TransientErrorType
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) {
		name = typed.ErrorType()
	}
	return messages.InvokeResponse_Error{Type: name, Message: err.Error()}
}

// badStepInput marks an input that did not decode into the step's type:
// the caller's mistake (400 on Knative), not the step's.
type badStepInput struct{ err error }

func (e badStepInput) Error() string { return e.err.Error() }
func (e badStepInput) Unwrap() error { return e.err }

// runStep is one invocation of a step on either runtime: the traceHeader
// member taken out of raw and continued as the invocation's span
// (upstream, when the input carries none: Knative's X-Amzn-Trace-Id), the
// rest decoded strictly into In, and fn run inside the span, which ends
// with fn's error. Errors come back under their stable type names, except
// a badStepInput, which keeps the decoder's error as it is.
func runStep[In, Out any](ctx context.Context, fn func(context.Context, In) (Out, error), raw []byte, upstream string) (Out, error) {
	var out Out
	rest, env, err := splitStepInput(raw)
	if env.traceHeader != "" {
		upstream = env.traceHeader
	}
	ctx, span := tracing.Invocation(ctx, upstream)
	if env.orderID != "" {
		tracing.Annotate(ctx, tracing.AnnotationOrderID, env.orderID)
	}
	var in In
	if err == nil {
		err = decodeStrict(rest, &in)
	}
	if err != nil {
		span.End(err)
		return out, badStepInput{err}
	}
	out, err = fn(ctx, in)
	span.End(err)
	return out, stableError(err)
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields
// and trailing data: the settings StartStep gave aws-lambda-go before it
// had to see the raw input, on both runtimes.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, trailing := dec.Token(); !errors.Is(trailing, io.EOF) {
		return errors.New("runtime: step input has data after the JSON value")
	}
	return nil
}

// newStepError names err exactly as aws-lambda-go does when it reports a
// function error: the type of the returned value, without package and pointer.
func newStepError(err error) stepError {
	if invokeErr, ok := err.(messages.InvokeResponse_Error); ok {
		return stepError{ErrorType: invokeErr.Type, ErrorMessage: invokeErr.Message}
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return stepError{ErrorType: t.Name(), ErrorMessage: err.Error()}
}

// stepHandler is the Knative entry point of StartStep. Input is decoded as
// on Lambda (runStep: unknown fields rejected) and the output encoded as
// aws-lambda-go encodes it (no HTML escaping).
func stepHandler[In, Out any](fn func(context.Context, In) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			WriteProblem(w, r, http.StatusMethodNotAllowed, "a saga step is invoked with POST")
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStepInputBytes))
		if err != nil {
			writeStepError(w, http.StatusBadRequest, err)
			return
		}
		out, err := runStep(r.Context(), fn, raw, r.Header.Get(tracing.HeaderName))
		if bad := (badStepInput{}); errors.As(err, &bad) {
			writeStepError(w, http.StatusBadRequest, bad.err)
			return
		}
		if err != nil {
			slog.ErrorContext(r.Context(), "runtime: step failed", "error", err)
			writeStepError(w, http.StatusInternalServerError, err)
			return
		}
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			slog.ErrorContext(r.Context(), "runtime: step output is not JSON", "error", err)
			writeStepError(w, http.StatusInternalServerError, err)
			return
		}
		// The Encoder's newline goes, as aws-lambda-go drops it: same bytes on both runtimes.
		body.Truncate(body.Len() - 1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body.Bytes())
	})
}

func writeStepError(w http.ResponseWriter, status int, err error) {
	b, _ := json.Marshal(newStepError(err)) // cannot fail: two strings
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
