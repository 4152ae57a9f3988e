package log

import (
	"encoding/json"
	"log/slog"
	"strings"
)

// Redacted replaces the value of an attribute named like a secret.
const Redacted = "[redacted]"

// sensitiveParts are what a key, lower-cased and without '-', '_' and '.',
// must not contain: its value is a secret or a means to one.
var sensitiveParts = [...]string{
	"password", "passwd", "passphrase", "secret", "token", "authorization",
	"apikey", "cookie", "credential", "privatekey", "signingkey", "signature",
}

// sensitiveKeys are short names that would match too much as parts.
var sensitiveKeys = [...]string{"pwd", "pin", "cvv", "cvc", "seed", "jwt", "bearer"}

// harmlessSuffixes end keys that name something about a secret, not the
// secret: "tokenPrincipal", "tokenId", "secretName", "passwordPolicy".
var harmlessSuffixes = [...]string{
	"principal", "subject", "id", "type", "kind", "name", "count", "issuer", "scope", "scopes",
	"expiry", "expiresat", "ttl", "policy", "version", "length", "arn",
}

// Sensitive reports whether an attribute called key holds a secret
// (case-insensitive; "paymentToken", "X-Api-Key" and "set_cookie" do).
func Sensitive(key string) bool {
	return !commonKey(key) && sensitive(key)
}

func sensitive(key string) bool {
	var buf [64]byte
	k := buf[:0]
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	s := string(k)
	for _, p := range sensitiveParts {
		if strings.Contains(s, p) {
			for _, h := range harmlessSuffixes {
				if strings.HasSuffix(s, h) && !strings.HasSuffix(s, p) {
					return false
				}
			}
			return true
		}
	}
	for _, p := range sensitiveKeys {
		if s == p {
			return true
		}
	}
	return false
}

// replaceAttr is the JSON handler's ReplaceAttr: level names, then redaction.
// slog calls it for every attribute, those given to With and inside groups
// included (groups names the groups a is in), and for the message; not for
// a group itself, which is why a secret group is caught through groups.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String(slog.LevelKey, levelName(l))
			}
			return a
		case slog.TimeKey:
			return a
		}
	}
	if Sensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if Sensitive(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); needsMasking(s) {
			return slog.String(a.Key, Mask(s))
		}
	case slog.KindAny:
		return slog.Any(a.Key, redactAny(a.Value.Any()))
	}
	return a
}

// commonKey reports the keys every request's lines carry (the edge's
// access line, log.Invocation's fields, the logger's own): none names a
// secret (TestCommonKeysAreNotSensitive), and answering them first spares
// the edge about ten lower-casings and part searches per request.
func commonKey(key string) bool {
	switch key {
	case "method", "path", "status", "bytes", "durationMs", "error",
		KeyService, KeyFunction, KeyRequestID, KeyCorrelationID, KeyTraceID, KeyColdStart:
		return true
	}
	return false
}

// redactAny makes a value of kind Any safe to write: an error as its masked
// message, a string-like value masked, anything else through JSON with its
// secret members redacted and its strings masked.
func redactAny(v any) any {
	switch x := v.(type) {
	case nil, bool, float64, int, int64, uint64:
		return v
	case error:
		return Mask(x.Error())
	case string:
		return Mask(x)
	case []byte:
		return Mask(string(x))
	case interface{ String() string }:
		return Mask(x.String())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v // the handler reports the same error in the line
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return v
	}
	return redactJSON(doc)
}

// redactJSON redacts a decoded JSON document in place.
func redactJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if Sensitive(k) {
				x[k] = Redacted
				continue
			}
			x[k] = redactJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactJSON(e)
		}
		return x
	case string:
		return Mask(x)
	}
	return v
}

// needsMasking is Mask's quick test: most strings hold nothing to mask.
func needsMasking(s string) bool {
	return strings.IndexByte(s, '@') >= 0 || strings.Contains(s, "tok_") ||
		strings.Contains(s, "eyJ") || strings.Contains(s, "earer ")
}

// Mask hides what a free-text string (a message, an error) may carry:
//
//   - an e-mail address keeps the first character of its local part and its
//     domain: "ada@example.com" becomes "a***@example.com";
//   - a payment token "tok_..." becomes "tok_[redacted]";
//   - a bearer token ("Bearer xyz") and a JWT-shaped token ("eyJ....") become
//     "[redacted]".
func Mask(s string) string {
	if !needsMasking(s) {
		return s
	}
	s = maskEmails(s)
	s = maskAfter(s, "tok_", "tok_"+Redacted, isTokenChar, 1)
	s = maskAfter(s, "Bearer ", "Bearer "+Redacted, isBearerChar, minBearerLen)
	s = maskAfter(s, "bearer ", "bearer "+Redacted, isBearerChar, minBearerLen)
	s = maskJWTs(s)
	return s
}

func maskEmails(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		start := i
		for start > last && isLocalChar(s[start-1]) {
			start--
		}
		end := i + 1
		dot := false
		for end < len(s) && isDomainChar(s[end]) {
			if s[end] == '.' {
				dot = true
			}
			end++
		}
		for end > i+1 && s[end-1] == '.' { // a sentence's full stop
			end--
		}
		if start == i || end == i+1 || !dot || !strings.Contains(s[i+1:end], ".") {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteByte(s[start])
		b.WriteString("***@")
		b.WriteString(s[i+1 : end])
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// minBearerLen is the shortest word after "bearer " taken for a token: a
// credential is long, and prose ("send a bearer token") is not one.
const minBearerLen = 16

// maskAfter replaces every prefix followed by at least minLen chars of its
// kind, and those chars, with repl.
func maskAfter(s, prefix, repl string, char func(byte) bool, minLen int) string {
	if !strings.Contains(s, prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			break
		}
		end := i + len(prefix)
		for end < len(s) && char(s[end]) {
			end++
		}
		b.WriteString(s[:i])
		if end-(i+len(prefix)) < minLen {
			b.WriteString(s[i:end])
		} else {
			b.WriteString(repl)
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

// maskJWTs replaces what looks like a JWS compact serialisation (a JSON
// header, base64url: "eyJ", then two dots) with Redacted.
func maskJWTs(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			break
		}
		end, dots := i, 0
		for end < len(s) && (isJWTChar(s[end]) || s[end] == '.') {
			if s[end] == '.' {
				dots++
			}
			end++
		}
		b.WriteString(s[:i])
		if dots >= 2 && (i == 0 || !isJWTChar(s[i-1])) {
			b.WriteString(Redacted)
		} else {
			b.WriteString(s[i:end])
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isLocalChar is what an address's local part is taken to be made of: the
// characters addresses use in practice. RFC 5322 allows more ("#", "=",
// "/"...), which in a log are separators far more often ("EMAIL#ada@...",
// "email=ada@..."): stopping there keeps the prefix readable.
func isLocalChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

func isTokenChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func isJWTChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// isBearerChar is RFC 6750's b64token.
func isBearerChar(c byte) bool { return isJWTChar(c) || strings.IndexByte(".~+/=", c) >= 0 }
