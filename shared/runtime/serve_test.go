package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runningServer is Serve running on 127.0.0.1:0 in the background.
type runningServer struct {
	base    string
	cancel  context.CancelFunc
	stopped chan struct{}
	err     error // Serve's result, set before stopped is closed
}

func runServe(t *testing.T, h http.Handler) *runningServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{base: "http://" + ln.Addr().String(), cancel: cancel, stopped: make(chan struct{})}
	go func() {
		s.err = Serve(ctx, ln, h)
		close(s.stopped)
	}()
	t.Cleanup(func() {
		cancel()
		if stopped, _ := s.wait(15 * time.Second); !stopped {
			t.Error("Serve did not return after cancel")
		}
	})
	return s
}

// wait reports whether Serve returned within d, and what it returned.
func (s *runningServer) wait(d time.Duration) (stopped bool, err error) {
	select {
	case <-s.stopped:
		return true, s.err
	case <-time.After(d):
		return false, nil
	}
}

// get fetches url on a fresh connection each time, as a prober or a new
// client would, so a draining server's keep-alive state does not matter.
func get(t *testing.T, url string) (int, string, error) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func mustGet(t *testing.T, url string) (int, string) {
	t.Helper()
	status, body, err := get(t, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return status, body
}

func TestServeProbesAndHandler(t *testing.T) {
	var calls atomic.Int32
	s := runServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "handled "+r.URL.Path)
	}))
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", http.StatusOK, "ok\n"},
		{"/readyz", http.StatusOK, "ready\n"},
		{"/orders/o-1", http.StatusOK, "handled /orders/o-1"},
		{"/healthz/extra", http.StatusOK, "handled /healthz/extra"},
	}
	for _, tt := range tests {
		status, body := mustGet(t, s.base+tt.path)
		if status != tt.wantStatus || body != tt.wantBody {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("handler called %d times, want 2 (probes must not reach it)", got)
	}
}

func TestServeDrainsOnCancel(t *testing.T) {
	const delay = 500 * time.Millisecond
	t.Setenv("SHUTDOWN_DELAY", delay.String())
	t.Setenv("SHUTDOWN_TIMEOUT", "10s")
	entered, unblock := make(chan struct{}), make(chan struct{})
	s := runServe(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-unblock
		_, _ = io.WriteString(w, "finished")
	}))
	// Registered after runServe so it runs first: a failed test must not
	// leave the request, and with it Serve, blocked.
	release := sync.OnceFunc(func() { close(unblock) })
	t.Cleanup(release)

	type result struct {
		status int
		body   string
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		status, body, err := get(t, s.base+"/slow")
		inFlight <- result{status, body, err}
	}()
	<-entered
	s.cancel()

	// During the delay the server still accepts connections, says it is not
	// ready, and is still alive.
	deadline := time.Now().Add(delay)
	sawNotReady := false
	for time.Now().Before(deadline) && !sawNotReady {
		status, body, err := get(t, s.base+"/readyz")
		if err != nil {
			t.Fatalf("readyz during drain: %v", err)
		}
		sawNotReady = status == http.StatusServiceUnavailable && body == "shutting down\n"
	}
	if !sawNotReady {
		t.Fatal("/readyz never answered 503 after cancel")
	}
	if status, _, err := get(t, s.base+"/healthz"); err != nil || status != http.StatusOK {
		t.Errorf("healthz during drain: %d, %v", status, err)
	}

	// Past the delay, Serve waits for the request in flight.
	if stopped, _ := s.wait(delay + 300*time.Millisecond); stopped {
		t.Fatal("Serve returned while a request was in flight")
	}
	release()
	got := <-inFlight
	if got.err != nil || got.status != http.StatusOK || got.body != "finished" {
		t.Errorf("in-flight request: %d %q %v", got.status, got.body, got.err)
	}
	stopped, err := s.wait(5 * time.Second)
	if !stopped {
		t.Fatal("Serve did not return after the last request finished")
	}
	if err != nil {
		t.Errorf("Serve returned %v after a clean drain", err)
	}
	if _, _, err := get(t, s.base+"/healthz"); err == nil {
		t.Error("server still accepting connections after Serve returned")
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	t.Setenv("SHUTDOWN_TIMEOUT", "100ms")
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := runServe(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}))
	go func() { _, _, _ = get(t, s.base+"/stuck") }()
	<-entered
	s.cancel()
	stopped, err := s.wait(5 * time.Second)
	if !stopped {
		t.Fatal("Serve did not give up after SHUTDOWN_TIMEOUT")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve returned %v, want a deadline error", err)
	}
}

func TestServeRejectsBadSettings(t *testing.T) {
	tests := []struct{ name, value string }{
		{"SHUTDOWN_TIMEOUT", "ten seconds"},
		{"SHUTDOWN_TIMEOUT", "-1s"},
		{"SHUTDOWN_DELAY", "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = Serve(context.Background(), ln, http.NotFoundHandler())
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("Serve error %v, want one naming %s", err, tt.name)
			}
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("listener left open: Accept returned %v", err)
			}
		})
	}
}

func TestServeReturnsWhenTheListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), ln, http.NotFoundHandler()) }()
	_ = ln.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve returned nil after its listener failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
}

func TestSIGTERMStopsTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- serveOnListenerUntilSignal(ln, http.NotFoundHandler()) }()

	// Once the server answers, the signal handler is installed: sending the
	// signal earlier would kill the test binary.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if status, _, err := get(t, base+"/readyz"); err == nil && status == http.StatusOK {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("server never became ready")
		}
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("clean shutdown returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not stop the server")
	}
}
