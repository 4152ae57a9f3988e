package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/shop-serverless/shop/shared/testenv"
)

func TestFatalWritesOneJSONLineAndExits1(t *testing.T) {
	if os.Getenv("RUNTIME_TEST_FATAL_CHILD") == "1" {
		Fatal("wiring failed: orders table", errors.New(`config: "TABLE" is empty`))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFatalWritesOneJSONLineAndExits1$")
	cmd.Env = append(os.Environ(), "RUNTIME_TEST_FATAL_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child ended with %v, want exit status 1; stderr %s", err, stderr.String())
	}
	want := `{"level":"ERROR","msg":"wiring failed: orders table","error":"config: \"TABLE\" is empty"}` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

func TestWriteFatalWithoutError(t *testing.T) {
	var buf bytes.Buffer
	writeFatal(&buf, "no port", nil)
	var line map[string]string
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if len(line) != 2 || line["level"] != "ERROR" || line["msg"] != "no port" {
		t.Errorf("line %v", line)
	}
}

func TestRoutedSetsPathValuesOnKnative(t *testing.T) {
	var got string
	h := routed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.PathValue("id") }), "GET /v1/users/{id}")
	for _, tt := range []struct {
		method, path string
		status       int
		id           string
	}{
		{"GET", "/v1/users/42", 200, "42"},
		{"POST", "/v1/users/42", 405, ""},
		{"GET", "/v1/products/42", 404, ""},
	} {
		got = ""
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || got != tt.id {
			t.Errorf("%s %s: status %d id %q, want %d %q", tt.method, tt.path, rec.Code, got, tt.status, tt.id)
		}
	}
	plain := routed(http.NotFoundHandler(), "")
	if _, isMux := plain.(*http.ServeMux); isMux {
		t.Error("no route must leave the handler unwrapped")
	}
}

func TestLinksNoCloudEvents(t *testing.T) {
	// Every function links this package, so whatever it imports is initialised
	// on every cold start; the CloudEvents SDK (with zap and json-iterator)
	// belongs to event consumers only, in package consumer.
	testenv.ForbidDeps(t, ".", "github.com/cloudevents")
}

func TestGuard(t *testing.T) {
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	refuse := func(status int) CallerCheck {
		return func(*http.Request) (int, string) { return status, "no" }
	}
	for _, tt := range []struct {
		name   string
		check  CallerCheck
		status int
	}{
		{"admitted", refuse(0), http.StatusNoContent},
		{"unauthenticated", refuse(http.StatusUnauthorized), http.StatusUnauthorized},
		{"forbidden", refuse(http.StatusForbidden), http.StatusForbidden},
		{"no check configured fails closed", nil, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Guard(tt.check, served).ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("refusal is not a problem body: %v", rec.Header())
			}
			if tt.status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	req := func(remote string, xff ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	t.Run("knative", func(t *testing.T) {
		t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
		trusted, err := parseTrustedProxies("10.0.0.0/8, 192.168.1.1")
		if err != nil {
			t.Fatal(err)
		}
		old := trustedProxies
		trustedProxies = func() (prefixes, error) { return trusted, nil }
		t.Cleanup(func() { trustedProxies = old })
		for _, tt := range []struct {
			r    *http.Request
			want string
		}{
			// No proxy in front: the peer.
			{req("203.0.113.9:51234"), "203.0.113.9"},
			{req("10.0.0.7:51234"), "10.0.0.7"},
			{req("10.0.0.7:51234", "203.0.113.9"), "203.0.113.9"},
			// The client's own entries come first; the ingress appends what it saw.
			{req("10.0.0.7:51234", "198.51.100.66, 203.0.113.9"), "203.0.113.9"},
			{req("10.0.0.7:51234", "198.51.100.66", "203.0.113.9"), "203.0.113.9"},
			// Ingress, activator and queue-proxy each append their peer: the
			// cluster's own addresses are looked through.
			{req("127.0.0.1:40000", "198.51.100.66, 203.0.113.9, 10.1.2.3, 10.4.5.6"), "203.0.113.9"},
			{req("[::1]:40000", "203.0.113.9, 192.168.1.1"), "203.0.113.9"},
			{req("127.0.0.1:40000", "2001:db8::1, 10.1.2.3"), "2001:db8::1"},
			// An untrusted peer is the client, whatever the header says.
			{req("198.51.100.7:40000", "203.0.113.9"), "198.51.100.7"},
			// 192.168.1.2 is not the one trusted address of that network.
			{req("127.0.0.1:40000", "203.0.113.9, 192.168.1.2"), "192.168.1.2"},
			// Every hop trusted (a client in the cluster): the leftmost.
			{req("127.0.0.1:40000", "10.9.9.9, 10.1.2.3"), "10.9.9.9"},
			// Garbage to the left of the trusted hops is the client's own
			// writing: the last address a proxy vouched for wins.
			{req("127.0.0.1:40000", "not-an-ip, 10.1.2.3"), "10.1.2.3"},
			{req("127.0.0.1:40000", "::ffff:203.0.113.9"), "203.0.113.9"},
		} {
			if got := ClientIP(tt.r); got != tt.want {
				t.Errorf("ClientIP(%s, %v) = %s, want %s", tt.r.RemoteAddr, tt.r.Header["X-Forwarded-For"], got, tt.want)
			}
		}
	})
	t.Run("only loopback is trusted by default", func(t *testing.T) {
		t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
		def, err := parseTrustedProxies("")
		if err != nil {
			t.Fatal(err)
		}
		old := trustedProxies
		trustedProxies = func() (prefixes, error) { return def, nil }
		t.Cleanup(func() { trustedProxies = old })
		if got := ClientIP(req("127.0.0.1:40000", "203.0.113.9, 10.1.2.3")); got != "10.1.2.3" {
			t.Errorf("ClientIP = %s, want 10.1.2.3: an address not configured as a proxy is the client", got)
		}
	})
	t.Run("bad trusted proxies are refused", func(t *testing.T) {
		for _, v := range []string{"10.0.0.0/33", "ten", "10.0.0.0/8,,x"} {
			if _, err := parseTrustedProxies(v); err == nil {
				t.Errorf("parseTrustedProxies(%q) accepted", v)
			}
		}
	})
	t.Run("lambda ignores X-Forwarded-For", func(t *testing.T) {
		t.Setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
		if got := ClientIP(req("203.0.113.9", "198.51.100.66")); got != "203.0.113.9" {
			t.Errorf("ClientIP = %s, want API Gateway's sourceIp", got)
		}
	})
}
