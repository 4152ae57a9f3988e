package tracing

import (
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/aws/aws-xray-sdk-go/v2/daemoncfg"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/ctxmissing"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/sampling"
)

// documentHeader precedes every document in a datagram to the daemon.
const documentHeader = `{"format":"json","version":1}` + "\n"

// maxDatagram is what one UDP datagram to the daemon may carry; a larger
// document is dropped (the daemon would drop it too).
const maxDatagram = 64 * 1024

// emitter sends documents to the daemon. Nothing of it exists until the
// first sampled span ends: no socket and no goroutine at cold start.
type emitter struct {
	once sync.Once
	conn *net.UDPConn // nil: no daemon address, nothing is sent
}

var daemon = &emitter{}

func send(doc []byte) {
	daemon.send(doc)
}

func (e *emitter) send(doc []byte) {
	e.once.Do(e.dial)
	if e.conn == nil || len(documentHeader)+len(doc) > maxDatagram {
		return
	}
	b := make([]byte, 0, len(documentHeader)+len(doc))
	b = append(append(b, documentHeader...), doc...)
	// UDP: no daemon listening means a lost datagram (or an ECONNREFUSED
	// on a later write), never a slow or failed request.
	_, _ = e.conn.Write(b)
}

func (e *emitter) dial() {
	endpoints, err := daemoncfg.GetDaemonEndpointsFromEnv()
	if err != nil {
		slog.Error("tracing: AWS_XRAY_DAEMON_ADDRESS is not an address: spans are dropped",
			"value", os.Getenv("AWS_XRAY_DAEMON_ADDRESS"), "error", err)
		return
	}
	if endpoints == nil {
		endpoints = daemoncfg.GetDefaultDaemonEndpoints()
	}
	conn, err := net.DialUDP("udp", nil, endpoints.UDPAddr)
	if err != nil {
		slog.Error("tracing: cannot open a socket to the X-Ray daemon: spans are dropped", "error", err)
		return
	}
	e.conn = conn
}

// sampler decides for new traces off Lambda (Lambda decides for its own).
// It is X-Ray's centralized strategy, which fetches the account's sampling
// rules through the daemon and falls back to the local default rule
// (one request a second, then 5 %); made, and its pollers started, on the
// first decision.
var sampler = sync.OnceValue(func() sampling.Strategy {
	s, err := sampling.NewCentralizedStrategy()
	if err != nil {
		slog.Error("tracing: no sampling strategy: new traces are not sampled", "error", err)
		return nil
	}
	if endpoints, err := daemoncfg.GetDaemonEndpointsFromEnv(); err == nil && endpoints != nil {
		s.LoadDaemonEndpoints(endpoints)
	}
	return s
})

// shouldSample is replaced in tests.
var shouldSample = func(r *sampling.Request) bool {
	s := sampler()
	return s != nil && s.ShouldTrace(r).Sample
}

// contextMissingLogged makes LOG_ERROR log once per process: the first
// line says what is wrong, a thousand more would say nothing new.
var contextMissingLogged sync.Once

// contextMissing applies AWS_XRAY_CONTEXT_MISSING when a span is asked for
// where no span is: LOG_ERROR (the default) logs once, IGNORE_ERROR does
// nothing, RUNTIME_ERROR panics (for tests that want to find such places).
func contextMissing(msg string) {
	switch os.Getenv("AWS_XRAY_CONTEXT_MISSING") {
	case ctxmissing.IgnoreErrorStrategy:
	case ctxmissing.RuntimeErrorStrategy:
		ctxmissing.NewDefaultRuntimeErrorStrategy().ContextMissing(msg)
	default:
		contextMissingLogged.Do(func() {
			slog.Error(msg + " (AWS_XRAY_CONTEXT_MISSING=LOG_ERROR: logged once, untraced work goes on)")
		})
	}
}
