package log

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestSensitive(t *testing.T) {
	for _, key := range []string{"password", "Password", "newPassword", "paymentToken", "PAYMENT_TOKEN", "token",
		"accessToken", "Authorization", "X-Api-Key", "apiKey", "api_key", "cookie", "Set-Cookie", "clientSecret",
		"secretString", "credentials", "privateKey", "pin", "seed", "passwordHash", "idToken", "sessionToken"} {
		if !Sensitive(key) {
			t.Errorf("Sensitive(%q) = false", key)
		}
	}
	for _, key := range []string{"msg", "email", "orderId", "userId", "status", "error", "path", "jti", "kid", "spinner",
		"tokenPrincipal", "tokenId", "secretName", "secretArn"} {
		if Sensitive(key) {
			t.Errorf("Sensitive(%q) = true", key)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"ada@example.com", "a***@example.com"},
		{"user ada.lovelace+shop@mail.example.co.uk registered.", "user a***@mail.example.co.uk registered."},
		{`{"email":"bob@example.com","other":"x@y.org"}`, `{"email":"b***@example.com","other":"x***@y.org"}`},
		{"a***@example.com", "a***@example.com"}, // masking twice changes nothing
		{"not an address: @handle, foo@bar", "not an address: @handle, foo@bar"},
		{"charge with tok_visa failed", "charge with tok_[redacted] failed"},
		{"Authorization: Bearer abc.def-ghi_jkl0123", "Authorization: Bearer [redacted]"},
		{"send a bearer token in the Authorization header", "send a bearer token in the Authorization header"},
		{"token eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2ln rejected", "token [redacted] rejected"},
		{"eyJ alone is fine", "eyJ alone is fine"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Nested   struct {
		APIKey string `json:"apiKey"`
		Email  string `json:"email"`
	} `json:"nested"`
}

// Every way a secret can reach a line: an attribute, With, a group, a
// group named like a secret, a struct or map value, an error, the message.
func TestHandlerRedacts(t *testing.T) {
	var buf bytes.Buffer
	logger := newLogger(&buf, "users", "users-register", "LOG_LEVEL", "debug").
		With(slog.String("authorization", "Bearer s3cr3t-with"))
	var c credentials
	c.User, c.Password, c.Nested.APIKey, c.Nested.Email = "ada", "hunter2-struct", "key-nested", "ada@example.com"
	logger.Info("registered ada@example.com",
		slog.String("password", "hunter2-attr"),
		slog.String("email", "ada@example.com"),
		slog.Group("request", slog.String("paymentToken", "tok_group"), slog.Int("items", 2)),
		slog.Group("Cookie", slog.String("session", "cookie-value")),
		slog.Any("body", c),
		slog.Any("headers", map[string]any{"X-Api-Key": "key-map", "accept": "json"}),
		slog.Any("error", errors.New("login ada@example.com with tok_err refused")),
	)
	out := buf.String()
	for _, secret := range []string{"s3cr3t-with", "hunter2-attr", "hunter2-struct", "key-nested", "tok_group", "cookie-value",
		"key-map", "ada@example.com", "tok_err"} {
		if strings.Contains(out, secret) {
			t.Errorf("the line shows %q: %s", secret, out)
		}
	}
	line := decodeLines(t, &buf)[0]
	if line["msg"] != "registered a***@example.com" || line["email"] != "a***@example.com" {
		t.Errorf("message or e-mail not masked: %v", line)
	}
	if line["password"] != Redacted || line["authorization"] != Redacted {
		t.Errorf("secrets not redacted: %v", line)
	}
	if req := line["request"].(map[string]any); req["items"] != float64(2) || req["paymentToken"] != Redacted {
		t.Errorf("group: %v", req)
	}
	if hdr := line["headers"].(map[string]any); hdr["accept"] != "json" {
		t.Errorf("harmless map member lost: %v", hdr)
	}
	if body := line["body"].(map[string]any); body["user"] != "ada" {
		t.Errorf("harmless struct member lost: %v", body)
	}
}

func TestLevelsAreLambdasNames(t *testing.T) {
	var buf bytes.Buffer
	logger := newLogger(&buf, "s", "f", "LOG_LEVEL", "trace")
	logger.Log(context.Background(), LevelTrace, "t")
	logger.Log(context.Background(), LevelFatal, "f")
	logger.Warn("w")
	var levels []string
	for _, l := range decodeLines(t, &buf) {
		levels = append(levels, l["level"].(string))
	}
	if strings.Join(levels, ",") != "TRACE,FATAL,WARN" {
		t.Errorf("levels %v", levels)
	}
}

func TestLevelSettingPrefersLambdas(t *testing.T) {
	env := map[string]string{"AWS_LAMBDA_LOG_LEVEL": "WARN", "LOG_LEVEL": "debug"}
	if name, v := levelSetting(func(k string) string { return env[k] }); name != "AWS_LAMBDA_LOG_LEVEL" || v != "WARN" {
		t.Errorf("got %s=%s", name, v)
	}
	delete(env, "AWS_LAMBDA_LOG_LEVEL")
	if name, v := levelSetting(func(k string) string { return env[k] }); name != "LOG_LEVEL" || v != "debug" {
		t.Errorf("got %s=%s", name, v)
	}
	t.Setenv("AWS_LAMBDA_LOG_LEVEL", "ERROR")
	t.Setenv("LOG_LEVEL", "debug")
	if New("f").Enabled(context.Background(), slog.LevelWarn) {
		t.Error("AWS_LAMBDA_LOG_LEVEL=ERROR: warn is enabled")
	}
}

func TestInvocationCarriesTheFields(t *testing.T) {
	var buf bytes.Buffer
	base := newLogger(&buf, "orders", "orders-create", "LOG_LEVEL", "")
	ctx, l := Invocation(WithContext(context.Background(), base),
		Fields{RequestID: "r1", CorrelationID: "c1", TraceID: "1-abc-def", ColdStart: true})
	if FromContext(ctx) != l {
		t.Fatal("the context does not carry the invocation's logger")
	}
	FromContext(ctx).Info("hello")
	line := decodeLines(t, &buf)[0]
	for k, want := range map[string]any{"service": "orders", "function": "orders-create", "requestId": "r1",
		"correlationId": "c1", "traceId": "1-abc-def", "coldStart": true, "level": "INFO", "msg": "hello"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["time"]; !ok {
		t.Error("no time")
	}
}

func TestInvocationAgainReplacesTheFields(t *testing.T) {
	var buf bytes.Buffer
	base := newLogger(&buf, "s", "f", "LOG_LEVEL", "")
	ctx, _ := Invocation(WithContext(context.Background(), base), Fields{RequestID: "r1", ColdStart: true})
	f, ok := InvocationFields(ctx)
	if !ok || f.RequestID != "r1" {
		t.Fatalf("fields %+v, %v", f, ok)
	}
	f.CorrelationID, f.TraceID = "c-event", "t-event"
	ctx, _ = Invocation(ctx, f)
	FromContext(ctx).Info("event")
	raw := buf.String()
	if strings.Count(raw, `"correlationId"`) != 1 || strings.Count(raw, `"requestId"`) != 1 {
		t.Fatalf("a key twice: %s", raw)
	}
	line := decodeLines(t, &buf)[0]
	if line["correlationId"] != "c-event" || line["traceId"] != "t-event" || line["requestId"] != "r1" || line["coldStart"] != true {
		t.Fatalf("line %v", line)
	}
}

func TestMaskKeepsWhatPrecedesTheAddress(t *testing.T) {
	for in, want := range map[string]string{
		"EMAIL#ada@example.com":       "EMAIL#a***@example.com",
		"email=ada.l@example.com":     "email=a***@example.com",
		"LOGIN#bob+x@example.com#W#1": "LOGIN#b***@example.com#W#1",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// The keys Sensitive answers without looking are ones it would not redact.
func TestCommonKeysAreNotSensitive(t *testing.T) {
	for _, key := range []string{"method", "path", "status", "bytes", "durationMs", "error",
		KeyService, KeyFunction, KeyRequestID, KeyCorrelationID, KeyTraceID, KeyColdStart} {
		if !commonKey(key) {
			t.Errorf("%q is not a common key", key)
		}
		if sensitive(key) {
			t.Errorf("%q is common but sensitive: drop it from commonKey", key)
		}
	}
	if commonKey("token") || !Sensitive("token") {
		t.Error("token must be sensitive")
	}
}
