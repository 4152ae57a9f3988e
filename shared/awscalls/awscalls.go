// Package awscalls records every AWS call a process makes, one JSON line per
// call, naming what IAM must allow for it: the actions, the resources and the
// keys of the items it touches. The local stack's end-to-end run reads these
// lines back from each function's log and checks them against the policy of
// the function's role, because the emulator stores IAM policies but never
// enforces them (tests/leastprivilege).
//
//	cfg.HTTPClient = awscalls.New(cfg.HTTPClient, os.Stdout)
//
// shared/awsconfig does exactly that when EnvSwitch is "1", which only the
// local deployer sets (as it sets SHOP_FAULTS); Terraform never does, so no
// function on AWS records anything.
//
// The recorder sits at the HTTP transport, not in the SDK's middleware, so it
// sees every request sent through the config's HTTP client, whether a
// generated SDK client or hand-signed code built it. It understands the AWS
// JSON protocols (an X-Amz-Target header and a JSON body), which every
// service the functions use speaks; a call it cannot fully describe is
// recorded with a Problem, and the check fails closed on it.
//
// A recorder never changes the request: the headers (and with them the
// signature) are untouched, and the body the server receives is byte for
// byte the one the caller sent, on every retry.
//
// What Lambda itself does with a function's role for an event source
// mapping (read the queue or stream, send to the on-failure destination)
// no recorder in the function sees: MappingNeeds names it.
package awscalls

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/tracing"
)

// EnvSwitch must be "1" for shared/awsconfig to install a recorder.
const EnvSwitch = "SHOP_RECORD_AWS_CALLS"

// LogKey is the key of a recorded call in its log line.
const LogKey = "awsCall"

// maxInspect bounds how much of a request body is read to describe it. AWS
// JSON requests of these functions are a few KiB; a larger body is passed
// through unread and its call recorded with a Problem.
const maxInspect = 1 << 20

// Call is one HTTP request to AWS: one attempt of an SDK operation (a
// retried operation is recorded once per attempt).
type Call struct {
	Service   string `json:"service"`             // IAM service prefix (dynamodb, ssm, ...)
	Operation string `json:"operation,omitempty"` // from X-Amz-Target: GetItem, GetParameter, ...
	Region    string `json:"region,omitempty"`    // from the signature's credential scope
	Attempt   int    `json:"attempt,omitempty"`   // the SDK's attempt number, when it says
	Status    int    `json:"status"`              // HTTP status; 0 when no response came back
	// LocalOnly names the test machinery that made the call (see LocalOnly):
	// a call that never happens on AWS, which the check does not hold
	// against the policy.
	LocalOnly string `json:"localOnly,omitempty"`
	Needs     []Need `json:"needs,omitempty"`
	// Problem says why Needs may be incomplete (no X-Amz-Target, a body that
	// is not what the operation takes, an operation this package does not
	// know). A call with a Problem cannot be proven allowed.
	Problem string `json:"problem,omitempty"`
}

// Need is one authorisation a call requires: IAM evaluates Action on
// Resource, once per Need.
type Need struct {
	Action string `json:"action"` // dynamodb:PutItem
	// Resource is the ARN's resource part, which is all the caller names:
	// table/<name>[/index/<index>], secret:<name or id>, parameter/<name>.
	// The account is not in the request; a caller that named a whole ARN
	// gets it here as is.
	Resource string `json:"resource"`
	// Keys are the primary keys (attribute name -> value) of the DynamoDB
	// items the Need touches, or the key condition's equalities for a Query:
	// the values that IAM's dynamodb:LeadingKeys is made of. Which attribute
	// is the partition key only the table's schema says, so all key
	// attributes are kept and the check picks. An e-mail address in a value
	// is masked in the line (maskKeys).
	Keys []map[string]string `json:"keys,omitempty"`
}

// line is what a recorded call looks like on the function's output.
type line struct {
	Msg  string `json:"msg"`
	Call Call   `json:"awsCall"`
}

// ParseLine returns the call a log line records, and false for any other line.
func ParseLine(s string) (Call, bool) {
	if !strings.Contains(s, `"`+LogKey+`"`) {
		return Call{}, false
	}
	var l struct {
		Call *Call `json:"awsCall"`
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil || l.Call == nil {
		return Call{}, false
	}
	return *l.Call, true
}

type localOnlyKey struct{}

// LocalOnly marks the AWS calls made with ctx as local test machinery (the
// fault switch of shared/faults) that no function makes on AWS. They are
// recorded with the reason, and not held against the function's policy.
//
// The calls' trace spans are marked too (tracing.LocalOnly).
func LocalOnly(ctx context.Context, reason string) context.Context {
	return context.WithValue(tracing.LocalOnly(ctx, reason), localOnlyKey{}, reason)
}

// Recorder is an aws.HTTPClient that records each request it passes on.
type Recorder struct {
	next aws.HTTPClient
	mu   sync.Mutex // one line at a time: concurrent calls must not interleave
	w    io.Writer
}

// New returns a recorder that sends requests through next (the SDK's default
// client if nil, as an aws.Config without HTTPClient would) and writes one
// line per call to w.
func New(next aws.HTTPClient, w io.Writer) *Recorder {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return &Recorder{next: next, w: w}
}

// Do sends req through the wrapped client and records it.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	call := Call{Attempt: attempt(req.Header.Get("Amz-Sdk-Request"))}
	call.Service, call.Region = credentialScope(req.Header.Get("Authorization"))
	if reason, ok := req.Context().Value(localOnlyKey{}).(string); ok {
		call.LocalOnly = reason
	}
	target := req.Header.Get("X-Amz-Target")
	var body []byte
	switch {
	case target == "":
		call.Problem = "no X-Amz-Target header: not an AWS JSON protocol request, so its IAM action is unknown"
	case req.Body == nil || req.Body == http.NoBody:
	case req.ContentLength <= 0:
		// With a body, 0 means "length unknown" to net/http, as -1 does.
		call.Problem = "body of unknown length not inspected"
	case req.ContentLength > maxInspect:
		call.Problem = fmt.Sprintf("body of %d bytes not inspected (limit %d)", req.ContentLength, maxInspect)
	default:
		var ok bool
		body, req, ok = peekBody(req)
		if !ok {
			call.Problem = "request body unreadable or shorter than its Content-Length"
		}
	}

	resp, err := r.next.Do(req)
	if err == nil && resp != nil {
		call.Status = resp.StatusCode
	}
	if target != "" {
		call.Operation = target[strings.LastIndex(target, ".")+1:]
	}
	if call.Problem == "" {
		call.Needs, call.Problem = safeDescribe(call.Service, call.Operation, body)
	}
	r.write(call)
	return resp, err
}

// safeDescribe is describe, turned into a Problem should it ever panic: the
// recorder is a test aid and must never be what breaks a function.
func safeDescribe(service, operation string, body []byte) (needs []Need, problem string) {
	defer func() {
		if p := recover(); p != nil {
			needs, problem = nil, fmt.Sprintf("describing the call panicked: %v", p)
		}
	}()
	return describe(service, operation, body)
}

func (r *Recorder) write(c Call) {
	maskKeys(c.Needs)
	b, err := json.Marshal(line{Msg: "aws call", Call: c})
	if err != nil {
		return // a Call holds strings and ints only; cannot happen
	}
	b = append(b, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(b) // the call itself must not fail because stdout did
}

// peekBody reads req's body and returns it with a shallow copy of req whose
// body yields exactly the same bytes, then whatever the original would have
// yielded next (its error included), and whose Close closes the original.
// ok is false when the body did not read cleanly up to its Content-Length.
func peekBody(req *http.Request) (body []byte, out *http.Request, ok bool) {
	orig := req.Body
	body, err := io.ReadAll(io.LimitReader(orig, req.ContentLength))
	rest := io.Reader(orig)
	if err != nil {
		rest = errReader{err}
	}
	out = req.WithContext(req.Context())
	out.Body = readCloser{io.MultiReader(bytes.NewReader(body), rest), orig}
	return body, out, err == nil && int64(len(body)) == req.ContentLength
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// credentialScope returns the service and region a SigV4 (or SigV4a, which
// has no region in its scope) Authorization header was signed for:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, ...".
// The signing name is the IAM service prefix, except for CloudWatch.
func credentialScope(auth string) (service, region string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	switch len(parts) {
	case 5: // key/date/region/service/aws4_request
		region, service = parts[2], parts[3]
	case 4: // SigV4a: key/date/service/aws4_request
		service = parts[2]
	}
	if service == "monitoring" {
		service = "cloudwatch"
	}
	return service, region
}

// attempt reads the SDK's "amz-sdk-request: attempt=2; max=3" header.
func attempt(h string) int {
	for _, part := range strings.Split(h, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// maskKeys masks what a key value must not show in a log (an e-mail
// address: the users table is keyed by it) as every log line does
// (log.Mask). The masked value keeps its prefix ("EMAIL#a***@example.com"),
// which is all a dynamodb:LeadingKeys pattern of the shop's policies looks at
// ("BREAKER#*").
func maskKeys(needs []Need) {
	for _, n := range needs {
		for _, k := range n.Keys {
			for attr, v := range k {
				k[attr] = log.Mask(v)
			}
		}
	}
}
