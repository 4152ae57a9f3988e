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

// typedErrors makes the errors of fn reach Step Functions under a stable
// type name: an error that carries one (an ErrorType() string method, as
// every service's domain errors have: see shared/errmap), wherever it sits
// in the chain, keeps it; every other error is TransientErrorType. A Catch
// can then tell ErrInsufficientStock from ErrNotFound although both are
// values of one Go type, and a Retry lists the transient names only.
func typedErrors[In, Out any](fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := fn(ctx, in)
		if err == nil {
			return out, nil
		}
		name := TransientErrorType
		var typed interface{ ErrorType() string }
		if errors.As(err, &typed) {
			name = typed.ErrorType()
		}
		return out, messages.InvokeResponse_Error{Type: name, Message: err.Error()}
	}
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

// stepHandler is the Knative entry point of StartStep. Input is decoded with
// the settings StartStep gives aws-lambda-go (unknown fields rejected) and the
// output encoded as aws-lambda-go encodes it (no HTML escaping).
func stepHandler[In, Out any](fn func(context.Context, In) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			WriteProblem(w, r, http.StatusMethodNotAllowed, "a saga step is invoked with POST")
			return
		}
		var in In
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxStepInputBytes))
		dec.DisallowUnknownFields()
		err := dec.Decode(&in)
		if err == nil {
			if _, trailing := dec.Token(); !errors.Is(trailing, io.EOF) {
				err = errors.New("runtime: step input has data after the JSON value")
			}
		}
		if err != nil {
			writeStepError(w, http.StatusBadRequest, err)
			return
		}

		out, err := fn(r.Context(), in)
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
