package livediff

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Policy is an IAM policy document by meaning: its statements keyed by Sid
// ("sid OwnTable"), or by their own canonical JSON when they have none,
// each statement canonical (single values as lists, lists sorted and
// deduplicated, Sid removed). So two documents that IAM treats the same
// compare equal whatever their key order, spacing, URL encoding, statement
// order or "x" versus ["x"].
type Policy struct {
	Version    string            `json:"version,omitempty" diff:"version"`
	ID         string            `json:"id,omitempty" diff:"id"`
	Statements map[string]string `json:"statements" diff:"statement"`
}

// setKeys are the statement elements whose value is a set of strings.
var setKeys = []string{"Action", "NotAction", "Resource", "NotResource"}

// parsePolicy reads a policy document as IAM returns it: JSON, or
// URL-encoded JSON (RFC 3986, so PathUnescape: a "+" stays a "+").
func parsePolicy(doc string) (Policy, error) {
	text, err := policyText(doc)
	if err != nil {
		return Policy{}, err
	}
	var raw struct {
		Version   string
		ID        string `json:"Id"`
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return Policy{}, fmt.Errorf("policy document: %w", err)
	}
	// Statement may be one object or a list of them.
	var stmts []map[string]any
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one map[string]any
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return Policy{}, fmt.Errorf("policy statement: %w", err)
		}
		stmts = []map[string]any{one}
	} else if len(raw.Statement) > 0 {
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return Policy{}, fmt.Errorf("policy statements: %w", err)
		}
	}
	p := Policy{Version: raw.Version, ID: raw.ID, Statements: map[string]string{}}
	for _, st := range stmts {
		sid, _ := st["Sid"].(string)
		delete(st, "Sid")
		canonicalStatement(st)
		b, err := json.Marshal(st) // maps marshal with sorted keys
		if err != nil {
			return Policy{}, fmt.Errorf("policy statement: %w", err)
		}
		key := "sid " + sid
		if sid == "" {
			key = string(b)
		}
		base := key
		for i := 2; p.Statements[key] != ""; i++ {
			key = fmt.Sprintf("%s (%d)", base, i)
		}
		p.Statements[key] = string(b)
	}
	return p, nil
}

// policyText is a policy document as JSON, decoded if IAM URL-encoded it.
func policyText(doc string) (string, error) {
	text := strings.TrimSpace(doc)
	if strings.HasPrefix(text, "{") {
		return text, nil
	}
	dec, err := url.PathUnescape(text)
	if err != nil {
		return "", fmt.Errorf("policy document is neither JSON nor URL-encoded JSON: %w", err)
	}
	return dec, nil
}

// canonicalStatement rewrites st in place: set-valued elements, principal
// values and condition values become sorted, deduplicated lists.
func canonicalStatement(st map[string]any) {
	for _, k := range setKeys {
		if v, ok := st[k]; ok {
			st[k] = stringSet(v)
		}
	}
	if pr, ok := st["Principal"].(map[string]any); ok {
		for k, v := range pr {
			pr[k] = stringSet(v)
		}
	}
	if pr, ok := st["NotPrincipal"].(map[string]any); ok {
		for k, v := range pr {
			pr[k] = stringSet(v)
		}
	}
	if cond, ok := st["Condition"].(map[string]any); ok {
		for _, byKey := range cond {
			if m, ok := byKey.(map[string]any); ok {
				for k, v := range m {
					m[k] = stringSet(v)
				}
			}
		}
	}
}

// stringSet turns "x" or ["y", "x", "x"] into ["x", "y"]; any other value
// (a number, a bool in a condition) is kept as its JSON text.
func stringSet(v any) any {
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
	default:
		b, _ := json.Marshal(v)
		out = []string{string(b)}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// canonicalJSON re-encodes a JSON document with sorted keys and no
// insignificant space, or returns it unchanged when it is not JSON (an
// emulator's free text).
func canonicalJSON(doc string) string {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return doc
	}
	b, err := json.Marshal(v)
	if err != nil {
		return doc
	}
	return string(b)
}
