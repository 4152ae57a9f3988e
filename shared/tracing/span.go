package tracing

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/header"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/exception"
)

const (
	namespaceAWS    = "aws"
	namespaceRemote = "remote"
)

// Span is one timed unit of work: a segment or a subsegment. Every method
// is safe on a nil *Span (what the functions return where nothing is
// traced) and from several goroutines.
type Span struct {
	// Fixed when the span begins.
	name      string
	id        string // 16 hex digits
	traceID   string // 1-<8 hex epoch>-<24 hex>
	parentID  string // "" for a trace's first segment
	sampled   bool   // false: propagated, never sent
	segment   bool   // a segment document; else an independent subsegment
	namespace string // aws, remote or "" (subsegments only)
	origin    string
	start     float64
	root      *Span // the invocation span, which Annotate writes to

	mu          sync.Mutex
	ended       bool
	annotations map[string]any
	metadata    map[string]any
	aws         map[string]any
	http        *httpInfo
	classified  bool // SetHTTP or the AWS middleware decided error/fault/throttle
	error       bool
	fault       bool
	throttle    bool
}

type httpInfo struct {
	Request  *httpRequest  `json:"request,omitempty"`
	Response *httpResponse `json:"response,omitempty"`
}

type httpRequest struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
}

type httpResponse struct {
	Status int `json:"status,omitempty"`
}

// document is a span as the X-Ray daemon takes it: a segment, or with Type
// "subsegment" an independent subsegment, which names its trace and parent.
// https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
type document struct {
	Name        string                    `json:"name"`
	ID          string                    `json:"id"`
	TraceID     string                    `json:"trace_id"`
	ParentID    string                    `json:"parent_id,omitempty"`
	Type        string                    `json:"type,omitempty"`
	Namespace   string                    `json:"namespace,omitempty"`
	StartTime   float64                   `json:"start_time"`
	EndTime     float64                   `json:"end_time"`
	Origin      string                    `json:"origin,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
	HTTP        *httpInfo                 `json:"http,omitempty"`
	AWS         map[string]any            `json:"aws,omitempty"`
	Error       bool                      `json:"error,omitempty"`
	Fault       bool                      `json:"fault,omitempty"`
	Throttle    bool                      `json:"throttle,omitempty"`
	Cause       *cause                    `json:"cause,omitempty"`
}

type cause struct {
	WorkingDirectory string                `json:"working_directory,omitempty"`
	Exceptions       []exception.Exception `json:"exceptions"`
}

type spanKey struct{}

func withSpan(ctx context.Context, s *Span) context.Context {
	return context.WithValue(ctx, spanKey{}, s)
}

func fromContext(ctx context.Context) *Span {
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}

func startChild(ctx context.Context, name, namespace string) (context.Context, *Span) {
	parent := fromContext(ctx)
	if parent == nil {
		contextMissing("tracing: no span in the context to begin " + strconv.Quote(name) + " in")
		return ctx, nil
	}
	s := &Span{
		name:      name,
		id:        newSpanID(),
		traceID:   parent.traceID,
		parentID:  parent.id,
		sampled:   parent.sampled,
		namespace: namespace,
		start:     now(),
		root:      parent.root,
	}
	return withSpan(ctx, s), s
}

// SetHTTP records an HTTP request and its answer on s (the invocation span
// of an HTTP function, or a remote call's); status 0 means no answer.
// A status of 5xx marks the span a fault, 429 a throttle, other 4xx an
// error.
func (s *Span) SetHTTP(method, url string, status int) {
	// An unsampled span is never sent (End): most invocations' spans, so
	// not building what End would drop is three allocations fewer on
	// every HTTP request (BenchmarkEdge). s.sampled is set once, at start.
	if s == nil || !s.sampled {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.http = &httpInfo{Request: &httpRequest{Method: method, URL: url}}
	if status == 0 {
		return
	}
	s.http.Response = &httpResponse{Status: status}
	s.classify(status)
}

// classify sets the outcome from an HTTP status; s.mu is held.
func (s *Span) classify(status int) {
	s.classified = true
	s.error, s.throttle, s.fault = false, false, false
	switch {
	case status == http.StatusTooManyRequests:
		s.error, s.throttle = true, true
	case status >= 500:
		s.fault = true
	case status >= 400:
		s.error = true
	}
}

// SetMetadata attaches a value that is shown, not indexed.
func (s *Span) SetMetadata(key string, value any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metadata == nil {
		s.metadata = map[string]any{}
	}
	s.metadata[key] = value
}

func (s *Span) annotate(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.annotations == nil {
		s.annotations = map[string]any{}
	}
	s.annotations[key] = value
}

func (s *Span) setAWS(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aws == nil {
		s.aws = map[string]any{}
	}
	s.aws[key] = value
}

// End ends s and sends it. A non-nil err is recorded as the span's cause
// and marks it a fault (unless SetHTTP already classified the outcome).
// Ending twice is a no-op.
func (s *Span) End(err error) {
	if s == nil {
		return
	}
	end := now()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if !s.sampled {
		s.mu.Unlock()
		return
	}
	d := document{
		Name:        s.name,
		ID:          s.id,
		TraceID:     s.traceID,
		ParentID:    s.parentID,
		StartTime:   s.start,
		EndTime:     end,
		Origin:      s.origin,
		Annotations: s.annotations,
		HTTP:        s.http,
		AWS:         s.aws,
		Error:       s.error,
		Fault:       s.fault,
		Throttle:    s.throttle,
	}
	if !s.segment {
		d.Type, d.Namespace = "subsegment", s.namespace
	}
	if len(s.metadata) > 0 {
		d.Metadata = map[string]map[string]any{"default": s.metadata}
	}
	if err != nil {
		d.Cause = newCause(err)
		if !s.classified {
			d.Fault = true
		}
	}
	b, mErr := json.Marshal(d)
	s.mu.Unlock()
	if mErr != nil {
		// A metadata value that does not marshal: send the span without it.
		d.Metadata = nil
		if b, mErr = json.Marshal(d); mErr != nil {
			return
		}
	}
	send(b)
}

func newCause(err error) *cause {
	// A fixed frame count keeps the document well under a datagram; the
	// stack is the caller's of End, which is where the error surfaced.
	f := exception.DefaultFormattingStrategy{FrameCount: 16}
	wd, _ := os.Getwd()
	return &cause{WorkingDirectory: wd, Exceptions: []exception.Exception{f.ExceptionFromError(err)}}
}

// header is s as a trace header (Root, Parent, Sampled); "" for nil.
func (s *Span) header() string {
	if s == nil {
		return ""
	}
	sampled := "0"
	if s.sampled {
		sampled = "1"
	}
	return header.RootPrefix + s.traceID + ";" + header.ParentPrefix + s.id + ";" + header.SampledPrefix + sampled
}

// traceHeader is a parsed X-Amzn-Trace-Id.
type traceHeader struct {
	root, parent string
	sampled      header.SamplingDecision
}

func parseHeader(s string) traceHeader {
	if s == "" {
		return traceHeader{}
	}
	h := header.FromString(s)
	t := traceHeader{root: h.TraceID, parent: h.ParentID, sampled: h.SamplingDecision}
	if !validTraceID(t.root) {
		return traceHeader{} // nothing to continue: a new trace is better than a broken one
	}
	if !validSpanID(t.parent) {
		t.parent = ""
	}
	return t
}

// validTraceID checks the X-Ray format 1-<8 hex>-<24 hex>.
func validTraceID(id string) bool {
	return len(id) == 35 && id[0] == '1' && id[1] == '-' && id[10] == '-' &&
		isHex(id[2:10]) && isHex(id[11:])
}

func validSpanID(id string) bool { return len(id) == 16 && isHex(id) }

func newTraceID() string {
	var r [12]byte
	fillRandom(r[:])
	epoch := strconv.FormatInt(time.Now().Unix(), 16)
	return "1-" + strings.Repeat("0", max(0, 8-len(epoch))) + epoch + "-" + hex.EncodeToString(r[:])
}

func newSpanID() string {
	var r [8]byte
	fillRandom(r[:])
	return hex.EncodeToString(r[:])
}

// fillRandom uses math/rand/v2's per-thread generator: ids must be unique,
// not secret, and crypto/rand would cost a syscall per span.
func fillRandom(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := i; j < len(b) && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// now is the time in epoch seconds, as X-Ray documents carry it.
func now() float64 {
	return float64(time.Now().UnixMicro()) / 1e6
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if hexValue(s[i]) > 15 {
			return false
		}
	}
	return s != ""
}

func isLowerHex(s string) bool {
	return isHex(s) && strings.ToLower(s) == s
}

func hexValue(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

func allZeros(s string) bool { return strings.Trim(s, "0") == "" }

func annotationValue(v any) bool {
	switch v.(type) {
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// fallbackName names spans of a process that did not call Init.
func fallbackName() string {
	if n := os.Getenv("SHOP_FUNCTION"); n != "" {
		return n
	}
	if n := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); n != "" {
		return n
	}
	return "shop"
}
