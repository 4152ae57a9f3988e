package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/functions/users"
)

// loginFrom invokes the deployed users-login directly with a made-up
// sourceIp, as API Gateway would for a client at that address: the suite's
// own requests all come from 127.0.0.1, and must not use up its limit. On
// Knative it posts to the function's own server as the ingress would, with
// the address the ingress appends to X-Forwarded-For (runtime.ClientIP).
func loginFrom(t *testing.T, ip, email, password string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	recordJSON(body)
	if onKnative() {
		req, err := http.NewRequest("POST", serviceURL(t, "users-login")+"/v1/auth/login", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for k := range resp.Header {
			headers[k] = resp.Header.Get(k)
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: resp.StatusCode, Headers: headers, Body: string(b)}
	}
	return invokeDirect(t, "users-login", events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /v1/auth/login",
		RawPath:  "/v1/auth/login",
		Headers:  map[string]string{"content-type": "application/json"},
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprintf("e2e-client-%d", time.Now().UnixNano()),
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/auth/login", SourceIP: ip},
		},
	})
}

// freshNetwork is a /64 of the documentation prefix that no earlier run
// against the same long-lived emulator has used, as "2001:db8:x:y::": add a
// host part to make an address.
func freshNetwork() string {
	return fmt.Sprintf("2001:db8:%x:%x::", rand.Uint32N(1<<16), rand.Uint32N(1<<16))
}

// One client's wrong passwords across many accounts: exactly
// MaxClientLoginFailures reach the password check, however they
// interleave; then the client is refused (429, Retry-After), even with a
// right password, while other clients are not.
func TestLoginPerClientLimit(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail(t)
	_, r := register(t, owner)
	expect(t, r, http.StatusCreated)

	const extra = 10
	outsideWindowEdge(t, users.ClientLoginWindow, time.Minute)
	// Two addresses of one /64: one client.
	network := freshNetwork()
	a, b := network+"1", network+"beef"
	n := users.MaxClientLoginFailures + extra
	statuses := make([]int, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ip := a
			if i%2 == 1 {
				ip = b
			}
			// A different account each time: no account's delay is met.
			resp := loginFrom(t, ip, fmt.Sprintf("stuffing-%d-%d@example.com", time.Now().UnixNano(), i), "leaked password")
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	t.Logf("%d wrong passwords from one client: %v", n, counts)
	if counts[http.StatusUnauthorized] != users.MaxClientLoginFailures || counts[http.StatusTooManyRequests] != extra {
		t.Fatalf("answers %v, want %d × 401 and %d × 429", counts, users.MaxClientLoginFailures, extra)
	}

	resp := loginFrom(t, a, owner, "correct horse 1")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password from the limited client: status %d, want 429: %s", resp.StatusCode, resp.Body)
	}
	secs, err := strconv.Atoi(resp.Headers["Retry-After"])
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > users.ClientLoginWindow {
		t.Fatalf("Retry-After %q, want 1..%v", resp.Headers["Retry-After"], users.ClientLoginWindow)
	}
	if resp := loginFrom(t, freshNetwork()+"1", owner, "correct horse 1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another client: status %d, want 200: %s", resp.StatusCode, resp.Body)
	}
}
