package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
)

// StartHTTP serves h on API Gateway (Lambda) or on $PORT (Knative). On Lambda
// it never returns; on Knative it returns after a graceful shutdown, so that
// deferred calls in main (flushing traces, metrics) still run.
func StartHTTP(h http.Handler) {
	if OnLambda() {
		lambda.Start(HTTPAdapter(h))
		return
	}
	ServeUntilSignal(traced(routed(h, os.Getenv("SHOP_ROUTE"))))
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

// StartStep runs a saga step as a Step Functions task (Lambda) or behind
// POST on $PORT (Knative), where check authenticates every caller (see
// CallerCheck). Lifecycle as StartHTTP.
//
// On both runtimes the input's "traceHeader" member (what the state machine
// passes in every Task's Payload) is taken out before the input is decoded,
// strictly (unknown fields rejected, on Lambda as on Knative), into In; it
// continues the saga's trace (see tracing.Invocation), and a string
// "orderId" member annotates the step's span.
func StartStep[In, Out any](fn func(context.Context, In) (Out, error), check CallerCheck) {
	// Logs and metrics of each run (observe.go), inside the step's span
	// (runStep), whose trace id they carry.
	fn = observeStep(fn)
	if OnLambda() {
		lambda.Start(func(ctx context.Context, raw json.RawMessage) (Out, error) {
			out, err := runStep(ctx, fn, raw, "")
			if bad := (badStepInput{}); errors.As(err, &bad) {
				return out, bad.err // named after the decoder's error, as aws-lambda-go named it
			}
			return out, err
		})
		return
	}
	ServeUntilSignal(Guard(check, stepHandler(fn)))
}

// CallerCheck authenticates the caller of a step or an event delivered over
// HTTP (Knative), where nothing in front of the container does: it returns
// 0 to admit the request, or the status to refuse it with (401, 403, 503)
// and a detail safe to show. auth.ServiceCaller is the shop's. On Lambda no
// check runs: who may invoke a function is IAM's decision.
type CallerCheck func(r *http.Request) (status int, detail string)

// Guard serves h to the requests check admits and refuses the others with
// a problem body. A nil check refuses every request: an endpoint someone
// forgot to protect must not be open.
func Guard(check CallerCheck, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, detail := http.StatusInternalServerError, "this endpoint has no caller check configured"
		if check != nil {
			status, detail = check(r)
		}
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shop"`)
			}
			WriteProblem(w, r, status, detail)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ClientIP is the address of the client that sent r. On Lambda it is API
// Gateway's sourceIp (the adapter puts it in RemoteAddr), which a client
// cannot forge. On Knative a request passes proxies before it reaches the
// container (the cluster's ingress, maybe the activator, and the pod's
// queue-proxy), and each appends the address it saw to X-Forwarded-For.
// ClientIP walks that chain, the peer last, from the right and returns the
// first address that is not one of the trusted proxies
// (EnvTrustedProxies): entries to its left are whatever the client sent.
// When every address is a trusted proxy (a client inside the cluster), the
// leftmost one that parses wins.
func ClientIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if OnLambda() {
		return peer
	}
	trusted, _ := trustedProxies() // a bad value stopped ServeUntilSignal
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	hops = append(hops, peer)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // not an address a proxy appends: the client wrote it
		}
		client = addr.Unmap().String()
		if !trusted.contains(addr) {
			break
		}
	}
	return client
}

// EnvTrustedProxies lists the proxies in front of a Knative container, as
// comma-separated CIDR prefixes or addresses; ClientIP looks through them.
// Unset, only loopback is trusted (a proxy in the same pod, such as
// Knative's queue-proxy). The generated Knative manifests set it.
const EnvTrustedProxies = "SHOP_TRUSTED_PROXIES"

type prefixes []netip.Prefix

func (ps prefixes) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustedProxies is EnvTrustedProxies, parsed once: ServeUntilSignal
// refuses to start when it does not parse, and ClientIP uses what it gave.
var trustedProxies = sync.OnceValues(func() (prefixes, error) {
	return parseTrustedProxies(os.Getenv(EnvTrustedProxies))
})

func parseTrustedProxies(v string) (prefixes, error) {
	ps := prefixes{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is neither an address nor a CIDR prefix", EnvTrustedProxies, f)
			}
			f = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is neither an address nor a CIDR prefix", EnvTrustedProxies, f)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
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

// OnLambda reports whether the process was started by the Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API is set). Every Start function, here and in
// subpackages such as consumer, picks its platform with it.
func OnLambda() bool {
	return os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
}

// ServeUntilSignal is the Knative entry point of every shape: bind $PORT
// (default 8080), Serve h until SIGTERM (what Kubernetes sends) or SIGINT
// (Ctrl-C when run locally), drain, return. A listen or serve error is Fatal.
func ServeUntilSignal(h http.Handler) {
	if _, err := trustedProxies(); err != nil {
		Fatal("runtime: bad trusted proxies", err)
	}
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
