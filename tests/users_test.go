package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type user struct {
	ID          string         `json:"id"`
	Email       string         `json:"email"`
	Name        string         `json:"name"`
	Phone       string         `json:"phone"`
	Preferences map[string]any `json:"preferences"`
	CreatedAt   time.Time      `json:"createdAt"`
	Version     int64          `json:"version"`
}

func uniqueEmail(t *testing.T) string {
	email := fmt.Sprintf("e2e-%d@example.com", time.Now().UnixNano())
	used.add("e-mail address", email)
	return email
}

func register(t *testing.T, email string) (user, response) {
	t.Helper()
	r := call(t, "POST", "/v1/users", map[string]string{"email": email, "password": "correct horse 1", "name": "Ada"})
	var u user
	if r.Status == http.StatusCreated {
		r.json(t, &u)
	}
	return u, r
}

func TestUsersRegisterGetUpdate(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	u, r := register(t, email)
	expect(t, r, http.StatusCreated)
	if u.ID == "" || u.Email != email || u.Name != "Ada" || u.Version != 1 || u.CreatedAt.IsZero() {
		t.Fatalf("registered user = %s", r.Body)
	}
	if strings.Contains(strings.ToLower(string(r.Body)), "password") || strings.Contains(string(r.Body), "argon2") {
		t.Fatalf("the response leaks the password or its hash: %s", r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/v1/users/"+u.ID {
		t.Errorf("Location = %q", loc)
	}
	tok, lr := login(t, email, "correct horse 1")
	expect(t, lr, http.StatusOK)
	auth := bearer(tok)
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }

	t.Run("duplicate email, any case, is 409", func(t *testing.T) {
		_, r := register(t, strings.ToUpper(email))
		expect(t, r, http.StatusConflict)
	})

	t.Run("get", func(t *testing.T) {
		r := call(t, "GET", "/v1/users/"+u.ID, nil, auth...)
		expect(t, r, http.StatusOK)
		var got user
		r.json(t, &got)
		if got.ID != u.ID || got.Email != email || got.Version != 1 {
			t.Fatalf("get = %s", r.Body)
		}
		if et := r.Header.Get("ETag"); et != `"1"` {
			t.Errorf("ETag = %q, want \"1\"", et)
		}
	})

	t.Run("get unknown is 404", func(t *testing.T) {
		reader := bearer(operatorToken(t, "users:read"))
		expect(t, call(t, "GET", "/v1/users/0190c3c4-0000-7000-8000-000000000000", nil, reader...), http.StatusNotFound)
		expect(t, call(t, "GET", "/v1/users/not-a-uuid", nil, reader...), http.StatusNotFound)
	})

	patch := map[string]any{"name": "Ada Lovelace", "preferences": map[string]any{"locale": "en-GB", "marketingEmails": true}}
	t.Run("update without If-Match is 428", func(t *testing.T) {
		expect(t, call(t, "PATCH", "/v1/users/"+u.ID, patch, auth...), http.StatusPreconditionRequired)
	})
	t.Run("update with the current version", func(t *testing.T) {
		r := call(t, "PATCH", "/v1/users/"+u.ID, patch, with("If-Match", `"1"`)...)
		expect(t, r, http.StatusOK)
		var got user
		r.json(t, &got)
		if got.Name != "Ada Lovelace" || got.Version != 2 || got.Preferences["locale"] != "en-GB" || got.Preferences["marketingEmails"] != true {
			t.Fatalf("updated = %s", r.Body)
		}
	})
	t.Run("stale update is 412 and changes nothing", func(t *testing.T) {
		expect(t, call(t, "PATCH", "/v1/users/"+u.ID, map[string]any{"name": "Mallory"}, with("If-Match", `"1"`)...), http.StatusPreconditionFailed)
		var got user
		call(t, "GET", "/v1/users/"+u.ID, nil, auth...).json(t, &got)
		if got.Name != "Ada Lovelace" || got.Version != 2 {
			t.Fatalf("after a refused update: %+v", got)
		}
	})
	t.Run("invalid patch is 400 with the field", func(t *testing.T) {
		p := expect(t, call(t, "PATCH", "/v1/users/"+u.ID, map[string]any{"phone": "12"}, with("If-Match", `"2"`)...), http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != "phone" {
			t.Fatalf("errors = %+v", p.Errors)
		}
	})
}

func TestUsersBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		ct     string
		status int
		field  string
	}{
		{"malformed JSON", `{"email": "a@b.co",`, "application/json", 400, ""},
		{"unknown field", `{"email":"x@example.com","password":"correct horse 1","name":"A","admin":true}`, "application/json", 400, "admin"},
		{"invalid email", `{"email":"nope","password":"correct horse 1","name":"A"}`, "application/json", 400, "email"},
		{"short password", `{"email":"x@example.com","password":"short","name":"A"}`, "application/json", 400, "password"},
		{"wrong type", `{"email":"x@example.com","password":"correct horse 1","name":7}`, "application/json", 400, "name"},
		{"not JSON content", `<user/>`, "application/xml", 415, ""},
		{"a real form body", `email=x&password=y`, "application/x-www-form-urlencoded", 415, ""},
		{"JSON sent as a form (curl -d without -H)", `{"email":"x@example.com","password":"correct horse 1","name":"A"}`, "application/x-www-form-urlencoded", 415, ""},
		{"JSON sent as text/plain (a cross-site simple request)", `{"email":"x@example.com","password":"correct horse 1","name":"A"}`, "text/plain", 415, ""},
		{"over 1 MiB", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := expect(t, call(t, "POST", "/v1/users", tt.body, "Content-Type", tt.ct), tt.status)
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Fatalf("errors = %+v, want field %q", p.Errors, tt.field)
			}
		})
	}
}

// A client that retries a registration with its Idempotency-Key gets the
// first answer again, not a 409 for the email it has itself just taken; so
// does a retry in which only the password changed: the password is a secret
// field, never part of what the idempotency record keeps (shared/idempotency
// documents the trade-off). The first password is the one that logs in.
func TestRegisterIdempotentReplay(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	key := "register-" + email
	body := func(password string) map[string]string {
		return map[string]string{"email": email, "password": password, "name": "Ada"}
	}
	first := call(t, "POST", "/v1/users", body("correct horse 1"), "Idempotency-Key", key)
	expect(t, first, http.StatusCreated)
	for _, retry := range []struct{ what, password string }{
		{"the same request", "correct horse 1"},
		{"another password", "another horse 2"},
	} {
		again := call(t, "POST", "/v1/users", body(retry.password), "Idempotency-Key", key)
		expect(t, again, http.StatusCreated)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Fatalf("retry with %s: replayed=%q %s; want the first answer %s",
				retry.what, again.Header.Get("Idempotent-Replayed"), again.Body, first.Body)
		}
	}
	_, r := login(t, email, "correct horse 1")
	expect(t, r, http.StatusOK)
}

// The README's first command, as written there (curl --json).
func TestRegisterWithTheREADMEsCurl(t *testing.T) {
	t.Parallel()
	body := `{"email":"` + uniqueEmail(t) + `","password":"correct horse 1","name":"A"}`
	expect(t, call(t, "POST", "/v1/users", body, "Content-Type", "application/json", "Accept", "application/json"), http.StatusCreated)
}

func TestCorrelationIDEchoed(t *testing.T) {
	t.Parallel()
	r := call(t, "GET", "/v1/products/0190c3c4-0000-7000-8000-000000000000", nil, "X-Correlation-Id", "e2e-corr-42")
	p := expect(t, r, http.StatusNotFound)
	if got := r.Header.Get("X-Correlation-Id"); got != "e2e-corr-42" {
		t.Errorf("X-Correlation-Id = %q", got)
	}
	if p.CorrelationID != "e2e-corr-42" {
		t.Errorf("problem correlationId = %q", p.CorrelationID)
	}
}
