// Package tracing records where the time of one user action goes, across
// functions, the saga and events, as AWS X-Ray traces. It is the one place
// that knows X-Ray: everything else uses this small API, so that a move to
// OpenTelemetry (AWS's direction for new work; the X-Ray SDKs are in
// maintenance) touches only this package.
//
//	ctx, span := tracing.Invocation(ctx, upstream) // the runtime adapters, once per invocation
//	defer func() { span.End(err) }()
//	tracing.Annotate(ctx, "orderId", id)            // a handler: what the trace is about
//	ctx, call := tracing.StartRemote(ctx, "users")  // shared/client, per outgoing call
//	h := tracing.Header(ctx)                        // what to pass on: X-Amzn-Trace-Id
//
// A trace is carried as an X-Ray trace header, "Root=1-5759e988-bd862e3fe1be46a994272793;
// Parent=53995c3f42cd8ad8;Sampled=1", read from the context, never from the
// process environment (on Lambda _X_AMZN_TRACE_ID is the last invocation's,
// and concurrent work in one process has several).
//
// Tracing never fails or slows a request: spans are sent as UDP datagrams
// to the X-Ray daemon (AWS_XRAY_DAEMON_ADDRESS, default 127.0.0.1:2000)
// when they end, and a missing daemon loses them quietly. Nothing is
// created before the first span (the cold-start budget).
package tracing

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/v2/header"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
)

// HeaderName is the HTTP header that carries a trace header between
// services (shared/client sends it; the runtime adapters read it).
const HeaderName = "X-Amzn-Trace-Id"

// Annotation keys every part of the shop uses, so that one filter
// expression (annotation.orderId = "...") finds one order's traces.
const (
	AnnotationService = "service" // set on every invocation span from SHOP_SERVICE
	AnnotationOrderID = "orderId"
	AnnotationUserID  = "userId"
	// An event's span (its relay's publish, its consumer's handling).
	AnnotationEventType = "eventType"
	AnnotationEventID   = "eventId"
)

// lambdaTraceKey is where aws-lambda-go puts the invocation's own trace
// header (Lambda-Runtime-Trace-Id) in the handler's context: a plain
// string key, which is why it cannot be a typed key of ours.
const lambdaTraceKey = "x-amzn-trace-id"

// names is what Init set: the service and function every invocation span
// is named and annotated after.
type names struct{ service, function string }

var processNames atomic.Pointer[names]

// Init names the spans of this process: service (SHOP_SERVICE) and
// function (SHOP_FUNCTION, the manifest name such as orders-create). The
// entry points (httpfn, stepfn, consumer, relay, the authorizer) call it
// once next to log.Init; it does no I/O.
func Init(service, function string) {
	processNames.Store(&names{service: service, function: function})
}

func currentNames() names {
	if n := processNames.Load(); n != nil {
		return *n
	}
	return names{}
}

// Invocation begins the span of one invocation (Lambda) or request
// (Knative) of this function, named after it and annotated with its
// service, and returns ctx carrying it. upstream is the trace header the
// caller passed on explicitly ("" for none): an X-Amzn-Trace-Id request
// header, a saga step's traceHeader, an event's traceparent (FromTraceParent)
// or an SQS message's AWSTraceHeader.
//
// On Lambda ctx holds the invocation's own trace header (aws-lambda-go's
// "x-amzn-trace-id" value). When upstream has a Parent and another Root,
// the platform dropped the caller's trace (API Gateway HTTP APIs, the local
// emulator everywhere): the span is a segment of upstream's trace, child of
// its Parent, so the caller's trace continues. Otherwise it is a
// subsegment of Lambda's own segment. Off Lambda it is a segment that
// continues upstream when it has a Root, else a new trace, sampled by
// X-Ray's rules.
func Invocation(ctx context.Context, upstream string) (context.Context, *Span) {
	n := currentNames()
	name := n.function
	if name == "" {
		name = fallbackName()
	}
	up := parseHeader(upstream)
	lambdaHeader, _ := ctx.Value(lambdaTraceKey).(string)
	lam := parseHeader(lambdaHeader)

	s := &Span{name: name, start: now()}
	switch {
	case lam.root != "" && lam.parent != "" && up.root != "" && up.parent != "" && up.root != lam.root:
		// The caller's trace, which the platform did not carry into
		// Lambda's segment: continue it as a segment of its own.
		s.segment, s.origin = true, "AWS::Lambda::Function"
		s.traceID, s.parentID = up.root, up.parent
		s.sampled = up.sampled != header.NotSampled
	case lam.root != "" && lam.parent != "":
		// Lambda's segment (its facade) is the parent.
		s.traceID, s.parentID = lam.root, lam.parent
		s.sampled = lam.sampled == header.Sampled
	default:
		if up.root == "" {
			up = lam // Lambda without a Parent (tracing PassThrough): its Root at least
		}
		s.segment = true
		if up.root != "" {
			s.traceID, s.parentID = up.root, up.parent
		} else {
			s.traceID = newTraceID()
		}
		switch up.sampled {
		case header.Sampled:
			s.sampled = true
		case header.NotSampled:
		default:
			s.sampled = shouldSample(&sampling.Request{ServiceName: name})
		}
	}
	s.id = newSpanID()
	s.root = s
	if n.service != "" {
		s.annotations = map[string]any{AnnotationService: n.service}
	}
	return withSpan(ctx, s), s
}

// Start begins a subsegment of ctx's current span for local work.
// Without a current span it applies AWS_XRAY_CONTEXT_MISSING (default
// LOG_ERROR: log once and go on) and returns ctx and a nil span.
func Start(ctx context.Context, name string) (context.Context, *Span) {
	return startChild(ctx, name, "")
}

// StartRemote begins a subsegment for a call to another service over
// HTTP (namespace remote), named after it ("users", "payment-provider").
func StartRemote(ctx context.Context, name string) (context.Context, *Span) {
	return startChild(ctx, name, namespaceRemote)
}

// StartAWS begins a subsegment for a call to an AWS service made other
// than through an instrumented SDK client (namespace aws): service is the
// SDK's service id ("EventBridge"), operation the API ("PutEvents").
func StartAWS(ctx context.Context, service, operation string) (context.Context, *Span) {
	ctx, s := startChild(ctx, service, namespaceAWS)
	if s != nil {
		s.aws = map[string]any{"operation": operation}
		if reason, ok := ctx.Value(localOnlyKey{}).(string); ok {
			s.aws[AWSLocalOnly] = reason
		}
	}
	return ctx, s
}

// AWSLocalOnly is the key, in an AWS span's "aws" object, of the reason the
// call is local test machinery (LocalOnly).
const AWSLocalOnly = "local_only"

type localOnlyKey struct{}

// LocalOnly marks the AWS calls made with ctx as local test machinery that
// no function makes on AWS (shared/faults' switch): their spans say so
// (AWSLocalOnly), so that counting a trace's calls (tests/bench) can leave
// them out. shared/awscalls.LocalOnly sets it along with its own mark.
func LocalOnly(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, localOnlyKey{}, reason)
}

// Annotate sets an indexed annotation on ctx's invocation span (the one
// Invocation began), where X-Ray's filter expressions find it. value is a
// string, bool or number.
func Annotate(ctx context.Context, key string, value any) {
	s := fromContext(ctx)
	if s == nil || !annotationValue(value) {
		return
	}
	s.root.annotate(key, value)
}

// Header is the trace header to pass on from ctx: the current span's trace
// as Root, the span as Parent, and its sampling decision; "" when ctx
// carries no span.
func Header(ctx context.Context) string {
	return fromContext(ctx).header()
}

// TraceID is the trace id of ctx's span ("1-5759e988-bd862e3fe1be46a994272793"),
// for log lines; "" when ctx carries no span.
func TraceID(ctx context.Context) string {
	if s := fromContext(ctx); s != nil {
		return s.traceID
	}
	return ""
}

// TraceParent is Header(ctx) as a W3C traceparent
// ("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"), what a
// CloudEvent carries (the distributed-tracing extension); "" without a span.
func TraceParent(ctx context.Context) string {
	s := fromContext(ctx)
	if s == nil {
		return ""
	}
	// 1-5759e988-bd862e3fe1be46a994272793: the epoch and the random part
	// together are the 32 hex digits of a W3C trace id.
	parts := strings.Split(s.traceID, "-")
	if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 8 || len(parts[2]) != 24 {
		return ""
	}
	flags := "00"
	if s.sampled {
		flags = "01"
	}
	return "00-" + parts[1] + parts[2] + "-" + s.id + "-" + flags
}

// FromTraceParent turns a W3C traceparent into an X-Ray trace header, as
// AWS maps one onto the other; "" when tp is not a valid traceparent.
func FromTraceParent(tp string) string {
	// version-traceid-parentid-flags; a later version may append fields.
	if len(tp) < 55 || (len(tp) > 55 && tp[55] != '-') || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	version, traceID, parentID, flags := tp[0:2], tp[3:35], tp[36:52], tp[53:55]
	if !isLowerHex(version) || version == "ff" || (version == "00" && len(tp) != 55) ||
		!isLowerHex(traceID) || allZeros(traceID) || !isLowerHex(parentID) || allZeros(parentID) || !isLowerHex(flags) {
		return ""
	}
	sampled := "0"
	if hexValue(flags[1])&1 == 1 {
		sampled = "1"
	}
	return "Root=1-" + traceID[:8] + "-" + traceID[8:] + ";Parent=" + parentID + ";Sampled=" + sampled
}

// AWS instruments every client made from cfg: one subsegment per call
// (namespace aws, named after the service id: DynamoDB, SFN, EventBridge,
// SQS...), with the operation, table or queue, retries, request id and
// the error, throttle or fault. Call it on the config before making clients
// (shared/awsconfig does).
func AWS(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, addAWSMiddleware)
}

// Transport wraps rt (nil: http.DefaultTransport) so that a request made
// inside a span (StartRemote) sends the span's trace header and records
// the request's method, URL and status on it.
func Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{next: rt}
}
