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
	mu     sync.Mutex
	dialed bool
	addr   string       // the AWS_XRAY_DAEMON_ADDRESS conn was made for
	conn   *net.UDPConn // nil: no usable address, nothing is sent
}

var daemon = &emitter{}

func send(doc []byte) {
	daemon.send(doc)
}

func (e *emitter) send(doc []byte) {
	if len(documentHeader)+len(doc) > maxDatagram {
		return
	}
	conn := e.connection()
	if conn == nil {
		return
	}
	b := make([]byte, 0, len(documentHeader)+len(doc))
	b = append(append(b, documentHeader...), doc...)
	// UDP: no daemon listening means a lost datagram (or an ECONNREFUSED
	// on a later write), never a slow or failed request.
	_, _ = conn.Write(b)
}

// connection is the socket to the daemon, made on first use, and again
// when AWS_XRAY_DAEMON_ADDRESS changed (tests; a process never changes it).
func (e *emitter) connection() *net.UDPConn {
	addr := os.Getenv("AWS_XRAY_DAEMON_ADDRESS")
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dialed && addr == e.addr {
		return e.conn
	}
	if e.conn != nil {
		_ = e.conn.Close()
	}
	e.dialed, e.addr, e.conn = true, addr, dial()
	return e.conn
}

func dial() *net.UDPConn {
	endpoints, err := daemoncfg.GetDaemonEndpointsFromEnv()
	if err != nil {
		slog.Error("tracing: AWS_XRAY_DAEMON_ADDRESS is not an address: spans are dropped",
			"value", os.Getenv("AWS_XRAY_DAEMON_ADDRESS"), "error", err)
		return nil
	}
	if endpoints == nil {
		endpoints = daemoncfg.GetDefaultDaemonEndpoints()
	}
	conn, err := net.DialUDP("udp", nil, endpoints.UDPAddr)
	if err != nil {
		slog.Error("tracing: cannot open a socket to the X-Ray daemon: spans are dropped", "error", err)
		return nil
	}
	return conn
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
