package tests

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/shop-serverless/shop/shared/log"
)

// used collects the secrets the run handed the stack (passwords, user and
// service tokens, payment tokens, e-mail addresses) as the helpers send
// them: call, loginFrom, invokeDirect, invokeStep record what they send and
// what they get back, userToken and operatorToken what they make. The
// secret scan (observability_test.go) then wants none of them in any
// function's log group.
var used = &secretSet{values: map[string]string{}}

type secretSet struct {
	mu     sync.Mutex
	values map[string]string // value -> kind
}

// minSecretLen keeps out values too short to be told from other text
// ("x", "short"): a validation test's throwaway password is no one's.
const minSecretLen = 8

func (s *secretSet) add(kind, value string) {
	value = strings.TrimSpace(value)
	if len(value) < minSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[value]; !ok { // the first kind is the truest ("user token", not the header it went in)
		s.values[value] = kind
	}
}

// all returns the secrets, longest first (a report names the longest match).
func (s *secretSet) all() []secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]secret, 0, len(s.values))
	for v, k := range s.values {
		out = append(out, secret{kind: k, value: v})
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].value) > len(out[j].value) })
	return out
}

type secret struct{ kind, value string }

// recordHeaders records the credentials among request headers.
func recordHeaders(h http.Header) {
	for name, vs := range h {
		for _, v := range vs {
			recordHeader(name, v)
		}
	}
}

func recordHeader(name, value string) {
	if !log.Sensitive(name) {
		return
	}
	if scheme, tok, ok := strings.Cut(value, " "); ok && strings.EqualFold(scheme, "bearer") {
		value = tok
	}
	used.add("token ("+name+")", value)
}

// recordJSON records, from a JSON body sent or received, the values of
// members named like a secret (password, token, paymentToken...) and every
// e-mail address. A body that is not JSON is looked at for addresses only.
func recordJSON(body []byte) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		recordEmails(string(body))
		return
	}
	recordValue("", doc)
}

func recordValue(key string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			recordValue(k, e)
		}
	case []any:
		for _, e := range x {
			recordValue(key, e)
		}
	case string:
		switch {
		case strings.HasPrefix(x, "tok_"):
			used.add("payment token", x)
		case log.Sensitive(key):
			used.add(key, x)
		default:
			recordEmails(x)
		}
	}
}

// recordEmails records the e-mail addresses in s.
func recordEmails(s string) {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '"' || r == ',' || r == '<' || r == '>' || r == '\n' || r == '&' || r == '='
	}) {
		if at := strings.IndexByte(f, '@'); at > 0 && strings.Contains(f[at:], ".") {
			used.add("e-mail address", f)
		}
	}
}
