// Package dynamostub is a local stand-in for DynamoDB's endpoint in
// benchmarks: an httptest.Server that answers the JSON wire protocol
// (X-Amz-Target: DynamoDB_20120810.<Operation>) with canned bodies, and a
// real SDK client pointed at it. It is not a mock of our own interfaces:
// the code under test goes through the SDK's serialisation, signing, HTTP
// round trip and deserialisation, as it does against AWS, minus the network.
//
//	srv := dynamostub.New(b)
//	srv.Answer("GetItem", `{"Item":`+dynamostub.ItemJSON(item)+`}`)
//	st := inventory.NewStore(srv.Client(), "inventory")
//
// An operation with no canned answer gets "{}", which is what PutItem,
// UpdateItem, DeleteItem and TransactWriteItems return when they succeed
// with no return values.
package dynamostub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const targetPrefix = "DynamoDB_20120810."

// Server is the stub endpoint. It is safe for concurrent use.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[string]answer
	calls   map[string]int
}

type answer struct {
	status int
	body   []byte
}

// New starts a stub closed when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{answers: map[string]answer{}, calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Answer makes op (GetItem, Query, ...) answer body, a JSON document as
// DynamoDB sends it.
func (s *Server) Answer(op, body string) { s.AnswerStatus(op, http.StatusOK, body) }

// AnswerStatus makes op answer body with an HTTP status: an error answer
// is a 400 with {"__type":"com.amazonaws.dynamodb.v20120810#<Code>",...}.
func (s *Server) AnswerStatus(op string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[op] = answer{status: status, body: []byte(body)}
}

// ConditionFailed is the body of a ConditionalCheckFailedException that
// returns the item the condition was checked against (ALL_OLD).
func ConditionFailed(item map[string]types.AttributeValue) string {
	return `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":` + ItemJSON(item) + `}`
}

// Calls is how many requests for op the stub has answered.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	_, _ = io.Copy(io.Discard, r.Body) // read as DynamoDB would
	if !ok || r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazon.coral.service#UnknownOperationException"}`)
		return
	}
	s.mu.Lock()
	a, canned := s.answers[op]
	s.calls[op]++
	s.mu.Unlock()
	if !canned {
		a = answer{status: http.StatusOK, body: []byte("{}")}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "STUB")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// Client is a DynamoDB client of the stub: static credentials, the
// standard retryer, the SDK's default HTTP client (keep-alive, as a warm
// Lambda has).
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSTUB", "stub-secret", ""),
		BaseEndpoint: aws.String(s.URL),
	})
}

// ItemJSON encodes item in DynamoDB's JSON wire format ({"pk":{"S":"..."}}).
func ItemJSON(item map[string]types.AttributeValue) string {
	b, err := json.Marshal(wireItem(item))
	if err != nil {
		panic(err) // maps of strings, bools and slices always encode
	}
	return string(b)
}

func wireItem(item map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = wire(v)
	}
	return out
}

func wire(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": sorted(v.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": sorted(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = wire(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": wireItem(v.Value)}
	default:
		panic(fmt.Sprintf("dynamostub: unsupported attribute value %T", v))
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}
