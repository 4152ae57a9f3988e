// Package runtime starts a shop function on whichever platform it runs on, so
// that one handler core serves both: AWS Lambda when AWS_LAMBDA_RUNTIME_API is
// set, otherwise an HTTP server on $PORT (default 8080), which is the Knative
// Serving contract.
//
// A function's main wires its dependencies and ends with one of these calls;
// the handler shapes below are the only ones accepted:
//
//	runtime.StartHTTP(h)             // h http.Handler: an HTTP API route
//	runtime.StartStep(fn, check)     // fn func(context.Context, In) (Out, error): a saga step on JSON
//	consumer.Start(scope, build)     // build returns func(context.Context, cloudevents.Event) error: an event consumer
//
// check (a CallerCheck, normally auth.ServiceCaller) authenticates the
// caller of a step or an event delivered over HTTP; on Lambda, IAM decides
// who may invoke. HTTP functions authenticate their callers in the handler
// chain (shared/auth), which shared/httpfn wires.
//
// The event consumer lives in the subpackage consumer so that functions of the
// other two shapes do not link the CloudEvents SDK, whose package inits every
// cold start would pay for; a test checks that this package never depends on
// it.
//
// For example (an HTTP function's main is shorter still: see shared/httpfn):
//
//	func main() {
//		cfg, err := config.Load[config.Function]()
//		if err != nil {
//			runtime.Fatal("config", err)
//		}
//		log.Init(cfg.Function)
//		tracing.Init(cfg.Service, cfg.Function)
//		aws, err := awsconfig.Load(context.Background())
//		if err != nil {
//			runtime.Fatal("aws config", err)
//		}
//		st := inventory.NewStore(dynamodb.NewFromConfig(aws), cfg.Table)
//		runtime.StartStep(inventory.Reserve(st), auth.ServiceCaller(verifier, "inventory:reserve"))
//	}
//
// # HTTP
//
// On Lambda the API Gateway HTTP API (payload format 2.0) request becomes an
// *http.Request: path parameters are set with SetPathValue, X-Request-Id is
// API Gateway's request id, and APIGatewayContext returns the whole request
// context (authorizer output, route key). Request cookies are accepted both as
// the cookies array (AWS) and as a cookie header (the local emulator). The
// response is buffered; text-like bodies travel as strings, others as base64,
// and every Set-Cookie goes to the cookies array. On Knative the handler is
// served as is, with nothing routing in front of it: a handler that reads path
// values is mounted on an http.ServeMux under its route's pattern
// ("GET /products/{id}"), which on Lambda matches the same path and sets the
// same values.
//
// # Events
//
// See package consumer: every event checked against the catalog and
// deduplicated on its id; SQS batches with partial batch failures and
// back-off on Lambda, a CloudEvents HTTP receiver on Knative.
//
// # Saga steps
//
// On Lambda the step is started with lambda.Start, so a returned error is
// reported with errorType set to a name a Step Functions Retry or Catch
// matches: a domain error's stable name (an ErrorType() string method
// anywhere in the chain, as shared/errmap gives every service's sentinel
// errors), otherwise the Go type name of the returned value itself (an error
// wrapped with fmt.Errorf("...: %w") is then a "wrapError"). On Knative the
// step answers POST from an authenticated caller with the JSON Out (200), or
// {"errorType":..., "errorMessage":...} named exactly as on Lambda: 400 for
// input it cannot decode, 500 for an error the step returned. On both,
// fields of the input that In does not declare are rejected, so a state
// machine that passes the wrong payload fails at once instead of silently
// dropping data.
//
// # Logs and metrics of each invocation
//
// Every adapter gives each invocation a logger with its requestId, correlationId,
// traceId and coldStart (shared/log) and emits its metrics line (shared/metrics:
// Invocations, Errors, Latency, ColdStarts): httpapi.Middleware for HTTP (the
// request id API Gateway gave it, Errors for a 5xx answer), BeginInvocation for
// the others (the Lambda request id; a saga step's error, a batch's failed
// items). The trace id is read from the context the adapter got, so the span
// tracing.Invocation began must be outside it.
//
// # Knative server
//
// Serve adds /healthz (200 while the process lives) and /readyz (200 while
// serving, 503 once shutdown began); these two paths are reserved. On SIGTERM
// or SIGINT the server stops being ready, keeps serving for SHUTDOWN_DELAY
// (default 0: Knative's queue-proxy has already drained the pod when the user
// container gets SIGTERM; set it on plain Kubernetes so endpoints notice the
// 503 first), then shuts down gracefully within SHUTDOWN_TIMEOUT (default 10s).
// Both are Go durations. A second signal kills the process at once.
//
// ServeUntilSignal, OnLambda and WriteProblem are what the subpackages' entry
// points share with this package's: the Knative server, the platform test,
// and the problem body for errors an entry point answers itself.
//
// This package recovers no panics. On Lambda, aws-lambda-go reports the
// invocation as failed and exits the process; on Knative, net/http logs the
// panic and drops the connection, which a broker or caller sees as a failure
// and retries. For HTTP, the httpapi middleware turns panics into 500s.
//
// Fatal reports a wiring error in main as one JSON line on stderr and exits 1.
package runtime
