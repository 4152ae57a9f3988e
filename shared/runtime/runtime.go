package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/cloudevents/sdk-go/v2/event"
)

// EventHandler consumes one CloudEvent. event.Event is the type that
// github.com/cloudevents/sdk-go/v2 exports as cloudevents.Event. Returning an
// error asks for redelivery, so handlers must be idempotent on the event id.
type EventHandler func(ctx context.Context, e event.Event) error

// StartHTTP serves h on API Gateway (Lambda) or on $PORT (Knative). On Lambda
// it never returns; on Knative it returns after a graceful shutdown, so that
// deferred calls in main (flushing traces, metrics) still run.
func StartHTTP(h http.Handler) {
	if onLambda() {
		lambda.Start(HTTPAdapter(h))
		return
	}
	serveUntilSignal(routed(h, os.Getenv("SHOP_ROUTE")))
}

// routed mounts h at its route when one is given. On Lambda, API Gateway has
// matched the route and the adapter sets the path values; on Knative nothing
// routes in front of the container, so the Knative manifests pass the
// function.yaml route ("GET /v1/users/{id}") in SHOP_ROUTE and a ServeMux
// matches it, setting r.PathValue and answering 404/405 for anything else.
func routed(h http.Handler, route string) http.Handler {
	if route == "" {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(route, h)
	return mux
}

// StartEvents consumes CloudEvents from SQS (Lambda) or from a Knative Trigger.
// Lifecycle as StartHTTP.
func StartEvents(h EventHandler) {
	if onLambda() {
		lambda.Start(lambdaEventHandler{handle: h}.invoke)
		return
	}
	serveUntilSignal(cloudEventsHandler(h))
}

// StartStep runs a saga step as a Step Functions task (Lambda) or behind
// POST on $PORT (Knative). Lifecycle as StartHTTP.
func StartStep[In, Out any](fn func(context.Context, In) (Out, error)) {
	if onLambda() {
		// Rejecting unknown fields keeps the Lambda contract identical to the
		// Knative one, where the same decoder settings apply.
		lambda.StartWithOptions(fn, lambda.WithDisallowUnknownFields(true))
		return
	}
	serveUntilSignal(stepHandler(fn))
}

// Fatal reports a wiring error in main and exits with status 1. The line is
// JSON so that CloudWatch and Kubernetes log pipelines parse it like every
// other log line, even when logging itself failed to initialise.
func Fatal(msg string, err error) {
	writeFatal(os.Stderr, msg, err)
	os.Exit(1)
}

func writeFatal(w io.Writer, msg string, err error) {
	line := struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Error string `json:"error,omitempty"`
	}{Level: "ERROR", Msg: msg}
	if err != nil {
		line.Error = err.Error()
	}
	b, _ := json.Marshal(line) // cannot fail: three strings
	_, _ = w.Write(append(b, '\n'))
}

func onLambda() bool {
	return os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
}

// serveUntilSignal is the Knative entry point: bind $PORT, serve until SIGTERM
// (what Kubernetes sends) or SIGINT (Ctrl-C when run locally), drain, return.
func serveUntilSignal(h http.Handler) {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		Fatal("runtime: cannot listen on $PORT", err)
	}
	if err := serveOnListenerUntilSignal(ln, h); err != nil {
		Fatal("runtime: server stopped with an error", err)
	}
}

func serveOnListenerUntilSignal(ln net.Listener, h http.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Restoring default handling lets a second signal kill a drain that
		// hangs, instead of being swallowed.
		stop()
	}()
	return Serve(ctx, ln, h)
}
