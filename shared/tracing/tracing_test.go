package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"

	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

const (
	lambdaRoot   = "1-5759e988-bd862e3fe1be46a994272793"
	facadeID     = "53995c3f42cd8ad8"
	upstreamRoot = "1-6759e988-0123456789abcdef01234567"
	upstreamID   = "0aa0bb0cc0dd0ee0"
)

func lambdaCtx(sampled string) context.Context {
	//lint:ignore SA1029 the key aws-lambda-go uses
	return context.WithValue(context.Background(), "x-amzn-trace-id", "Root="+lambdaRoot+";Parent="+facadeID+";Sampled="+sampled)
}

func TestLinksNoGRPCProtobufOrFasthttp(t *testing.T) {
	// The SDK's xray package (and instrumentation, which imports it) links
	// these, doubling a hello world's binary and its package init.
	testenv.ForbidDeps(t, ".", "google.golang.org/grpc", "google.golang.org/protobuf", "github.com/golang/protobuf",
		"github.com/valyala/fasthttp", "github.com/aws/aws-xray-sdk-go/v2/xray", "github.com/aws/aws-xray-sdk-go/v2/instrumentation")
}

func TestInvocationOffLambdaStartsASampledTraceWithItsChildren(t *testing.T) {
	d := startDaemon(t)
	sampleAll(t, true)
	initNames(t, "orders", "orders-create")

	ctx, inv := Invocation(context.Background(), "")
	Annotate(ctx, AnnotationOrderID, "o-1")
	lctx, local := Start(ctx, "price")
	Annotate(lctx, AnnotationUserID, "u-1") // on the invocation span, from a child's context
	local.SetMetadata("lines", 3)
	local.End(nil)
	_, remote := StartRemote(ctx, "users")
	remote.SetHTTP("GET", "http://users/v1/users/u-1", 200)
	remote.End(nil)
	_, call := StartAWS(ctx, "EventBridge", "PutEvents")
	call.End(nil)
	inv.SetHTTP("POST", "/v1/orders", 201)
	inv.End(nil)

	docs := d.Wait(4)
	for _, doc := range docs {
		checkDocument(t, doc)
	}
	seg := byName(t, docs, "orders-create")
	if seg.Str("type") != "" || seg.Str("parent_id") != "" || seg.Str("origin") != "" {
		t.Errorf("a new trace's invocation span is a segment without parent: %v", seg)
	}
	if a := seg.Obj("annotations"); a["service"] != "orders" || a["orderId"] != "o-1" || a["userId"] != "u-1" {
		t.Errorf("annotations %v", a)
	}
	if h := seg.Obj("http"); h["request"].(map[string]any)["url"] != "/v1/orders" || h["response"].(map[string]any)["status"] != 201.0 {
		t.Errorf("http %v", h)
	}
	for name, ns := range map[string]string{"price": "", "users": "remote", "EventBridge": "aws"} {
		sub := byName(t, docs, name)
		if sub.Str("type") != "subsegment" || sub.Str("namespace") != ns ||
			sub.Str("trace_id") != seg.Str("trace_id") || sub.Str("parent_id") != seg.Str("id") {
			t.Errorf("%s: want a subsegment (namespace %q) of %s/%s: %v", name, ns, seg.Str("trace_id"), seg.Str("id"), sub)
		}
		if sub["annotations"] != nil {
			t.Errorf("%s: annotations belong on the invocation span: %v", name, sub["annotations"])
		}
	}
	if m := byName(t, docs, "price").Obj("metadata"); m["default"].(map[string]any)["lines"] != 3.0 {
		t.Errorf("metadata %v", m)
	}
	if a := byName(t, docs, "EventBridge").Obj("aws"); a["operation"] != "PutEvents" {
		t.Errorf("aws %v", a)
	}
	if got, want := Header(ctx), "Root="+seg.Str("trace_id")+";Parent="+seg.Str("id")+";Sampled=1"; got != want {
		t.Errorf("Header = %q, want %q", got, want)
	}
	if TraceID(ctx) != seg.Str("trace_id") {
		t.Errorf("TraceID = %q", TraceID(ctx))
	}
}

func TestInvocationOffLambdaContinuesUpstream(t *testing.T) {
	tests := []struct {
		name, upstream        string
		sampler               bool
		wantTrace, wantParent string
		wantSent              bool
	}{
		{"caller's trace", "Root=" + upstreamRoot + ";Parent=" + upstreamID + ";Sampled=1", false, upstreamRoot, upstreamID, true},
		{"caller decided not to sample", "Root=" + upstreamRoot + ";Parent=" + upstreamID + ";Sampled=0", true, upstreamRoot, upstreamID, false},
		{"no decision: the rules decide", "Root=" + upstreamRoot, true, upstreamRoot, "", true},
		{"garbage is a new trace", "Root=nonsense;Parent=x", true, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			sampleAll(t, tt.sampler)
			initNames(t, "users", "users-get")
			ctx, s := Invocation(context.Background(), tt.upstream)
			s.End(nil)
			if !tt.wantSent {
				d.Quiet(0)
				if !strings.HasSuffix(Header(ctx), ";Sampled=0") || TraceID(ctx) != tt.wantTrace {
					t.Errorf("an unsampled span still propagates: %q", Header(ctx))
				}
				return
			}
			seg := d.Wait(1)[0]
			checkDocument(t, seg)
			if tt.wantTrace != "" && seg.Str("trace_id") != tt.wantTrace || seg.Str("parent_id") != tt.wantParent || seg.Str("type") != "" {
				t.Errorf("segment %v, want trace %q parent %q", seg, tt.wantTrace, tt.wantParent)
			}
		})
	}
}

func TestInvocationOnLambda(t *testing.T) {
	tests := []struct {
		name, lambdaSampled, upstream string
		wantSegment                   bool
		wantTrace, wantParent         string
		wantSent                      bool
	}{
		{"no upstream: subsegment of the facade", "1", "", false, lambdaRoot, facadeID, true},
		{"same root: subsegment of the facade", "1", "Root=" + lambdaRoot + ";Parent=" + upstreamID + ";Sampled=1", false, lambdaRoot, facadeID, true},
		{"another root with Parent: the caller's trace goes on", "1", "Root=" + upstreamRoot + ";Parent=" + upstreamID + ";Sampled=1", true, upstreamRoot, upstreamID, true},
		{"another root without Parent (API Gateway's): subsegment", "1", "Root=" + upstreamRoot + ";Sampled=1", false, lambdaRoot, facadeID, true},
		{"Lambda did not sample", "0", "", false, lambdaRoot, facadeID, false},
		{"caller's trace, not sampled", "1", "Root=" + upstreamRoot + ";Parent=" + upstreamID + ";Sampled=0", true, upstreamRoot, upstreamID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			old := shouldSample
			shouldSample = func(*sampling.Request) bool { t.Error("on Lambda, Lambda samples"); return true }
			t.Cleanup(func() { shouldSample = old })
			initNames(t, "inventory", "inventory-reserve")

			ctx, s := Invocation(lambdaCtx(tt.lambdaSampled), tt.upstream)
			if TraceID(ctx) != tt.wantTrace {
				t.Errorf("TraceID %q, want %q", TraceID(ctx), tt.wantTrace)
			}
			s.End(errors.New("out of stock"))
			if !tt.wantSent {
				d.Quiet(0)
				return
			}
			got := d.Wait(1)[0]
			checkDocument(t, got)
			if got.Str("trace_id") != tt.wantTrace || got.Str("parent_id") != tt.wantParent || got.Str("name") != "inventory-reserve" {
				t.Errorf("got %v, want trace %s parent %s", got, tt.wantTrace, tt.wantParent)
			}
			if isSub := got.Str("type") == "subsegment"; isSub == tt.wantSegment {
				t.Errorf("type %q, want segment %v", got.Str("type"), tt.wantSegment)
			}
			if tt.wantSegment && got.Str("origin") != "AWS::Lambda::Function" {
				t.Errorf("origin %q", got.Str("origin"))
			}
			if got["fault"] != true || got.Obj("cause") == nil {
				t.Errorf("an error ends the span a fault with a cause: %v", got)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		err                    error
		error, fault, throttle bool
	}{
		{"ok", 200, nil, false, false, false},
		{"client error", 404, nil, true, false, false},
		{"throttled", 429, nil, true, false, true},
		{"server error", 503, nil, false, true, false},
		{"no answer", 0, errors.New("connection refused"), false, true, false},
		{"error without HTTP", -1, errors.New("boom"), false, true, false},
		{"handled error under a 409", 409, errors.New("conflict"), true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			sampleAll(t, true)
			ctx, inv := Invocation(context.Background(), "")
			_, s := StartRemote(ctx, "payment-provider")
			if tt.status >= 0 {
				s.SetHTTP("POST", "https://pay.example/charges", tt.status)
			}
			s.End(tt.err)
			s.End(errors.New("a second End is a no-op"))
			inv.End(nil)
			sub := byName(t, d.Wait(2), "payment-provider")
			if sub["error"] == true != tt.error || sub["fault"] == true != tt.fault || sub["throttle"] == true != tt.throttle {
				t.Errorf("error %v fault %v throttle %v, want %v %v %v", sub["error"], sub["fault"], sub["throttle"], tt.error, tt.fault, tt.throttle)
			}
			c := sub.Obj("cause")
			if (tt.err != nil) != (c != nil) {
				t.Fatalf("cause %v for err %v", c, tt.err)
			}
			if c != nil {
				ex := c["exceptions"].([]any)[0].(map[string]any)
				if ex["message"] != tt.err.Error() || ex["id"] == "" || ex["type"] == "" {
					t.Errorf("exception %v", ex)
				}
			}
		})
	}
}

func TestNoDaemonLosesSpansQuietly(t *testing.T) {
	// A port nothing listens on: the datagrams are lost, and after the
	// first the kernel may answer writes with ECONNREFUSED.
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", tracingtest.ClosedAddress(t))
	useFreshEmitter(t)
	sampleAll(t, true)

	start := time.Now()
	for range 20 {
		ctx, inv := Invocation(context.Background(), "")
		_, s := StartAWS(ctx, "DynamoDB", "GetItem")
		s.End(errors.New("x"))
		inv.End(nil)
	}
	if time.Since(start) > time.Second {
		t.Errorf("20 invocations took %s without a daemon", time.Since(start))
	}
}

func TestBadDaemonAddressDropsSpans(t *testing.T) {
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", "not an address")
	useFreshEmitter(t)
	sampleAll(t, true)
	_, inv := Invocation(context.Background(), "")
	inv.End(nil) // logs once, drops, does not panic
	if daemon.conn != nil {
		t.Error("a socket for a bad address")
	}
}

func TestNothingBeforeTheFirstSpan(t *testing.T) {
	useFreshEmitter(t)
	old := shouldSample
	shouldSample = func(*sampling.Request) bool { t.Error("no sampling decision on Lambda"); return false }
	t.Cleanup(func() { shouldSample = old })
	Init("orders", "orders-create")
	if daemon.conn != nil {
		t.Fatal("Init opened a socket")
	}
	_, s := Invocation(lambdaCtx("0"), "")
	s.End(nil)
	if daemon.conn != nil {
		t.Error("an unsampled span opened a socket")
	}
}

func TestContextMissing(t *testing.T) {
	tests := []struct {
		setting   string
		wantLog   bool
		wantPanic bool
	}{
		{"", true, false},
		{"LOG_ERROR", true, false},
		{"IGNORE_ERROR", false, false},
		{"RUNTIME_ERROR", false, true},
	}
	for _, tt := range tests {
		t.Run("setting "+tt.setting, func(t *testing.T) {
			t.Setenv("AWS_XRAY_CONTEXT_MISSING", tt.setting)
			var logs bytes.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
			t.Cleanup(func() { slog.SetDefault(old) })
			contextMissingLogged = sync.Once{}

			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				for range 3 {
					ctx, s := Start(context.Background(), "work")
					if s != nil || ctx == nil {
						t.Errorf("Start without a span = %v, %v", ctx, s)
					}
					_, _ = StartRemote(ctx, "users")
					_, _ = StartAWS(ctx, "SQS", "SendMessage")
					s.End(nil)
					s.SetHTTP("GET", "/", 200)
					s.SetMetadata("k", "v")
					Annotate(ctx, "orderId", "o-1")
					if Header(ctx) != "" || TraceID(ctx) != "" || TraceParent(ctx) != "" {
						t.Error("propagation without a span")
					}
				}
				return false
			}()
			if panicked != tt.wantPanic {
				t.Errorf("panicked %v, want %v", panicked, tt.wantPanic)
			}
			lines := strings.Count(logs.String(), "\n")
			if tt.wantLog && lines != 1 || !tt.wantLog && lines != 0 {
				t.Errorf("%d log lines, want one if logging: %s", lines, logs.String())
			}
		})
	}
}

func TestTraceParent(t *testing.T) {
	sampleAll(t, true)
	useFreshEmitter(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:9") // discard
	ctx, s := Invocation(context.Background(), "Root="+upstreamRoot+";Parent="+upstreamID+";Sampled=1")
	defer s.End(nil)
	tp := TraceParent(ctx)
	if tp != "00-6759e9880123456789abcdef01234567-"+s.id+"-01" {
		t.Errorf("TraceParent = %q", tp)
	}
	if got := FromTraceParent(tp); got != Header(ctx) {
		t.Errorf("round trip: %q, want %q", got, Header(ctx))
	}

	for tp, want := range map[string]string{
		"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01":      "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00":      "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
		"01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-03-more": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"": "",
		"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-x":        "", // version 00 has four fields
		"ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01":          "",
		"00-00000000000000000000000000000000-53995c3f42cd8ad8-01":          "",
		"00-5759e988bd862e3fe1be46a994272793-0000000000000000-01":          "",
		"00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01":          "",
		"00-5759e988bd862e3fe1be46a99427279-353995c3f42cd8ad8-01":          "",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8": "",
	} {
		if got := FromTraceParent(tp); got != want {
			t.Errorf("FromTraceParent(%q) = %q, want %q", tp, got, want)
		}
	}
}

func TestSpanIsSafeFromSeveralGoroutines(t *testing.T) {
	startDaemon(t)
	sampleAll(t, true)
	ctx, inv := Invocation(context.Background(), "")
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			c, s := Start(ctx, "w")
			Annotate(c, "n", i)
			s.SetMetadata("i", i)
			inv.SetMetadata("last", i)
			s.End(nil)
		}()
	}
	for range 8 {
		<-done
	}
	inv.End(nil)
}

func TestLocalOnlyMarksTheAWSSpansMadeUnderIt(t *testing.T) {
	d := startDaemon(t)
	sampleAll(t, true)
	initNames(t, "orders", "orders-create")

	ctx, inv := Invocation(context.Background(), "")
	_, switchRead := StartAWS(LocalOnly(ctx, "faults"), "DynamoDB", "GetItem")
	switchRead.End(nil)
	_, call := StartAWS(ctx, "DynamoDB", "PutItem")
	call.End(nil)
	inv.End(nil)

	docs := d.Wait(3)
	for _, doc := range docs {
		if doc.Str("name") != "DynamoDB" {
			continue
		}
		a := doc.Obj("aws")
		switch a["operation"] {
		case "GetItem":
			if a[AWSLocalOnly] != "faults" {
				t.Errorf("the fault switch's read is not marked local only: %v", a)
			}
		case "PutItem":
			if _, ok := a[AWSLocalOnly]; ok {
				t.Errorf("a function's own call is marked local only: %v", a)
			}
		}
	}
}
