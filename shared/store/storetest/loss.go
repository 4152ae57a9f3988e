package storetest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// LossyTable is Table with a client that loses responses on demand, the
// fault MiniStack shows under load (DESIGN.md §7c) and AWS can show after a
// network failure: the request reaches the emulator, which applies it, and
// the client then fails to read the response with "use of closed network
// connection", an error the SDK retries. The retry meets the state its own
// first attempt left behind.
//
//	db, table, loss := storetest.LossyTable(t, "users")
//	loss.Next("UpdateItem") // the next UpdateItem is applied, its answer lost
//	... the code under test ...
//	loss.WantLost(t, "UpdateItem", 1) // the fault fired and the SDK retried
//
// Every request still goes to the emulator; only the client's view of the
// chosen responses is lost.
func LossyTable(t testing.TB, service string) (*dynamodb.Client, string, *Loss) {
	t.Helper()
	_, table, cfg := newTable(t, service)
	loss := &Loss{next: awshttp.NewBuildableClient(), armed: map[string][]func(){}, lost: map[string]int{}, sent: map[string][][]byte{}}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = loss
		logRetries(t, o)
		// The standard retryer with its usual attempts, but short waits: the
		// point is that it retries, not how long it sleeps first.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = 50 * time.Millisecond })
	})
	return db, table, loss
}

// Loss is the HTTP client of a LossyTable's DynamoDB client.
type Loss struct {
	next aws.HTTPClient

	mu    sync.Mutex
	armed map[string][]func() // operation -> responses to lose, each with what runs before the client hears
	lost  map[string]int
	sent  map[string][][]byte // operation -> the body of every attempt, in order
}

// Next makes the emulator apply the next request for operation op
// ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems") and the
// client lose its response. Each call arms one more loss.
func (l *Loss) Next(op string) { l.NextThen(op, nil) }

// NextThen is Next, and runs then after the emulator has applied the request
// and before the client sees the failure and retries: another writer's
// change landing in that window. then may use the same client.
func (l *Loss) NextThen(op string, then func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed[op] = append(l.armed[op], then)
}

// Sent returns the body of every attempt sent for op, retries included.
func (l *Loss) Sent(op string) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.sent[op]...)
}

// WantLost fails the test unless exactly n responses to op were lost and
// none is still armed: a test of the fault must prove the fault happened.
func (l *Loss) WantLost(t testing.TB, op string, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost[op] != n || len(l.armed[op]) != 0 {
		t.Fatalf("%s: %d responses lost (%d still armed), want %d lost", op, l.lost[op], len(l.armed[op]), n)
	}
}

// errLost is what reading a lost response fails with; the SDK's retryer
// recognises the text as a connection error (retry.RetryableConnectionError).
var errLost = fmt.Errorf("read tcp 127.0.0.1: %w", net.ErrClosed)

// Do sends req to the emulator. For an armed operation it then reads and
// discards the whole response, so the emulator is done with the request
// before the client retries, and hands the SDK a response whose body fails
// to read.
func (l *Loss) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	op = op[strings.LastIndex(op, ".")+1:]
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	l.mu.Lock()
	l.sent[op] = append(l.sent[op], body)
	var (
		lose bool
		then func()
	)
	if a := l.armed[op]; len(a) > 0 {
		lose, then, l.armed[op] = true, a[0], a[1:]
	}
	l.mu.Unlock()

	resp, err := l.next.Do(req)
	if err != nil || !lose {
		return resp, err
	}
	if err := Lose(resp); err != nil {
		return nil, err
	}
	if then != nil {
		then()
	}
	l.mu.Lock()
	l.lost[op]++
	l.mu.Unlock()
	return resp, nil
}

// Lose makes resp a lost response, for any AWS client's HTTP client: it
// reads the server's answer to its end, so the server is done with the
// request, and puts in its place a body that fails to read with a
// connection error, which the SDK's retryer retries.
func Lose(resp *http.Response) error {
	_, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("storetest: reading the response to lose: %w", err)
	}
	resp.Body, resp.ContentLength = io.NopCloser(failingReader{}), -1
	return nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errLost }
