package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

const (
	defaultShutdownTimeout = 10 * time.Second
	// Slow or stalled clients must not pin a goroutine and a connection forever.
	readHeaderTimeout = 10 * time.Second
	// Longer than the idle timeout of Go's http.Transport (90s), which is what
	// queue-proxy and the activator use, so that the proxy closes an idle
	// connection before we do and never reuses one we are closing.
	idleTimeout = 120 * time.Second
)

// Serve serves h on ln, plus /healthz and /readyz, until ctx is done; then it
// reports not ready, waits SHUTDOWN_DELAY, and shuts down gracefully within
// SHUTDOWN_TIMEOUT. It returns nil after a clean drain, an error if the
// settings are invalid, the server fails, or the drain timed out (in which
// case the remaining connections were closed). It always closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	delay, err := durationFromEnv("SHUTDOWN_DELAY", 0)
	if err != nil {
		_ = ln.Close()
		return err
	}
	timeout, err := durationFromEnv("SHUTDOWN_TIMEOUT", defaultShutdownTimeout)
	if err != nil {
		_ = ln.Close()
		return err
	}

	var draining atomic.Bool
	srv := &http.Server{
		Handler:           withProbes(h, &draining),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// Requests inherit ctx's values but not its cancellation: shutdown
		// means letting in-flight requests finish, not aborting them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("runtime: serve: %w", err)
	case <-ctx.Done():
	}

	draining.Store(true)
	// Clients holding a keep-alive connection would otherwise keep sending
	// to this instance during the delay, whatever /readyz says.
	srv.SetKeepAlivesEnabled(false)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case err := <-served:
			return fmt.Errorf("runtime: serve: %w", err)
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("runtime: graceful shutdown within %s: %w", timeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("runtime: serve: %w", err)
	}
	return nil
}

func withProbes(h http.Handler, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			writeProbe(w, http.StatusOK, "ok")
		case "/readyz":
			if draining.Load() {
				writeProbe(w, http.StatusServiceUnavailable, "shutting down")
				return
			}
			writeProbe(w, http.StatusOK, "ready")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func writeProbe(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// A cached "ready" seen through a proxy would defeat the point of failing it.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

func durationFromEnv(name string, fallback time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("runtime: %s=%q is not a Go duration: %w", name, v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("runtime: %s=%q is negative", name, v)
	}
	return d, nil
}
