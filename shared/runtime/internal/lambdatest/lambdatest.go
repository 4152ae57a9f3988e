// Package lambdatest runs a function's entry point against a stand-in for the
// Lambda Runtime API, so that the tests of package runtime and of its
// subpackages go through aws-lambda-go's own invoke loop:
//
//	res := lambdatest.Invoke(t, func() { runtime.StartStep(fn) }, payload)
package lambdatest

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Result is what a Lambda runtime loop posted back for one invocation.
type Result struct {
	Outcome     string // "response" or "error"
	ContentType string
	Body        []byte
}

// Invoke starts a function with start, exactly as main would, against a
// stand-in for the Lambda Runtime API on 127.0.0.1 that hands out payload
// once, and returns what the function posted back. This goes through
// aws-lambda-go's own invoke loop, so errorType is named by aws-lambda-go
// itself, not by our idea of it.
//
// Invoke sets AWS_LAMBDA_RUNTIME_API with t.Setenv, so a test that calls it
// cannot run in parallel.
//
// The runtime loop never returns, so each call leaves one goroutine blocked on
// /next for the rest of the test binary's life. Answering that call instead
// would make the loop exit the process.
func Invoke(t *testing.T, start func(), payload []byte) Result {
	t.Helper()
	return InvokeTraced(t, start, payload, "")
}

// InvokeTraced is Invoke with Lambda's trace header for the invocation
// (Lambda-Runtime-Trace-Id, which aws-lambda-go puts in the handler's
// context as "x-amzn-trace-id"); "" sends none.
func InvokeTraced(t *testing.T, start func(), payload []byte, traceHeader string) Result {
	t.Helper()
	results := make(chan Result, 1)
	handedOut := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case handedOut <- struct{}{}:
		default:
			select {} // the next invocation never comes
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "invoke-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		if traceHeader != "" {
			w.Header().Set("Lambda-Runtime-Trace-Id", traceHeader)
		}
		_, _ = w.Write(payload)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/invoke-1/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		results <- Result{Outcome: r.PathValue("outcome"), ContentType: r.Header.Get("Content-Type"), Body: body}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()

	t.Setenv("AWS_LAMBDA_RUNTIME_API", ln.Addr().String())
	go start()
	select {
	case res := <-results:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the function never answered the invocation")
		return Result{}
	}
}
