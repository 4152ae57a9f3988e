// Package iampolicy decides whether identity-based IAM policies allow a
// request, for the local stack, whose emulator stores policies but never
// enforces them.
//
//	p, err := iampolicy.Parse("shop-users-get", document)
//	d := iampolicy.Evaluate([]iampolicy.Policy{p}, iampolicy.Request{Action: "dynamodb:GetItem", Resource: tableARN})
//
// It evaluates what the project's policies use, as IAM does: Allow and Deny
// statements (an explicit Deny wins, nothing allowed is denied), Action and
// Resource lists with the * and ? wildcards, and conditions with the
// StringEquals and StringLike operators, plain or with ForAllValues: or
// ForAnyValue:, on dynamodb:LeadingKeys. Anything else fails closed: a
// policy with NotAction, NotResource, a Principal or policy variables does
// not parse, and a condition with another operator or key, or on a key whose
// value the caller could not determine, never allows and always denies.
package iampolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// SupportedKeys are the condition keys Evaluate understands (lower case:
// IAM compares condition key names case-insensitively).
var SupportedKeys = []string{"dynamodb:leadingkeys"}

// Policy is one parsed policy document.
type Policy struct {
	Name       string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid        string
	Effect     string // Allow or Deny
	Actions    []string
	Resources  []string
	Conditions []Condition
}

// Condition is one key under one operator: it holds when the request's
// values for Key compare with Values under Operator.
type Condition struct {
	Operator string // as written: StringLike, ForAllValues:StringLike, ...
	Key      string
	Values   []string
}

// Request is what a call asks IAM for.
type Request struct {
	Action   string // service:Action
	Resource string // the resource's ARN
	// Context maps the condition keys the request carries to their values;
	// a key that is not there is absent from the request.
	Context map[string][]string
	// Unknown names condition keys that apply to the request but whose
	// values the caller could not determine: a condition on one fails closed.
	Unknown []string
}

// Decision is Evaluate's answer.
type Decision struct {
	Allowed bool
	// Reason says why a request is not allowed.
	Reason string
	// Grants are, for an allowed request, each Allow statement that allows
	// it and the action patterns in it that matched.
	Grants []Grant
}

// Grant names an action pattern of an Allow statement.
type Grant struct {
	Policy    string
	Statement int // index in the policy
	Sid       string
	Action    string // the pattern as written
}

// Parse reads a policy document, plain JSON or URL-encoded as IAM's API
// returns it, and refuses anything Evaluate could get wrong.
func Parse(name, document string) (Policy, error) {
	doc := strings.TrimSpace(document)
	if !strings.HasPrefix(doc, "{") {
		dec, err := url.QueryUnescape(doc)
		if err != nil {
			return Policy{}, fmt.Errorf("policy %s: neither JSON nor URL-encoded JSON: %w", name, err)
		}
		doc = dec
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", name, err)
	}
	if raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return Policy{}, fmt.Errorf("policy %s: version %q is not 2012-10-17 or 2008-10-17", name, raw.Version)
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return Policy{}, fmt.Errorf("policy %s: Statement is neither a statement nor a list of them", name)
		}
		stmts = []map[string]json.RawMessage{one}
	}
	if len(stmts) == 0 {
		return Policy{}, fmt.Errorf("policy %s: no statements", name)
	}
	p := Policy{Name: name}
	for i, raw := range stmts {
		s, err := parseStatement(raw)
		if err != nil {
			return Policy{}, fmt.Errorf("policy %s: statement %d: %w", name, i, err)
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func parseStatement(raw map[string]json.RawMessage) (Statement, error) {
	var s Statement
	for field, v := range raw {
		var err error
		switch field {
		case "Sid":
			err = json.Unmarshal(v, &s.Sid)
		case "Effect":
			err = json.Unmarshal(v, &s.Effect)
		case "Action":
			s.Actions, err = stringOrList(v)
		case "Resource":
			s.Resources, err = stringOrList(v)
		case "Condition":
			s.Conditions, err = parseConditions(v)
		case "NotAction", "NotResource":
			// Easy to get subtly wrong, and nothing here needs them.
			err = fmt.Errorf("%s is not supported", field)
		case "Principal", "NotPrincipal":
			err = fmt.Errorf("%s belongs in a resource policy, not an identity policy", field)
		default:
			err = fmt.Errorf("unknown field %q", field)
		}
		if err != nil {
			return Statement{}, fmt.Errorf("%s: %w", field, err)
		}
	}
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return Statement{}, fmt.Errorf("effect %q is not Allow or Deny", s.Effect)
	}
	if len(s.Actions) == 0 || len(s.Resources) == 0 {
		return Statement{}, errors.New("a statement needs an Action and a Resource")
	}
	for _, r := range s.Resources {
		if strings.Contains(r, "${") {
			return Statement{}, fmt.Errorf("resource %q: policy variables are not supported", r)
		}
	}
	return s, nil
}

func parseConditions(v json.RawMessage) ([]Condition, error) {
	var byOp map[string]map[string]json.RawMessage
	if err := json.Unmarshal(v, &byOp); err != nil {
		return nil, err
	}
	var conds []Condition
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		for _, key := range slices.Sorted(maps.Keys(byOp[op])) {
			values, err := conditionValues(byOp[op][key])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, key, err)
			}
			for _, val := range values {
				if strings.Contains(val, "${") {
					return nil, fmt.Errorf("%s %s: policy variables are not supported", op, key)
				}
			}
			conds = append(conds, Condition{Operator: op, Key: key, Values: values})
		}
	}
	return conds, nil
}

// conditionValues reads a condition's value or values; IAM takes strings,
// booleans and numbers and compares them as text.
func conditionValues(v json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		list = []json.RawMessage{v}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
			continue
		}
		var b bool
		if err := json.Unmarshal(item, &b); err == nil {
			out = append(out, fmt.Sprint(b))
			continue
		}
		var n json.Number
		if err := json.Unmarshal(item, &n); err == nil {
			out = append(out, n.String())
			continue
		}
		return nil, fmt.Errorf("value %s is not a string, boolean or number", item)
	}
	return out, nil
}

func stringOrList(v json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, errors.New("neither a string nor a list of strings")
	}
	return list, nil
}

// Evaluate decides req against the policies together, as IAM evaluates the
// identity policies of one role: an explicit Deny wins, then any Allow, and
// without either the request is denied.
func Evaluate(policies []Policy, req Request) Decision {
	var grants []Grant
	var notes []string
	for _, p := range policies {
		for i, s := range p.Statements {
			actions := matchingActions(s.Actions, req.Action)
			if len(actions) == 0 || !slices.ContainsFunc(s.Resources, func(r string) bool { return wildcardMatch(r, req.Resource) }) {
				continue
			}
			holds, err := conditionsHold(s.Conditions, req)
			where := statementName(p, i)
			switch {
			case s.Effect == "Deny" && err != nil:
				return Decision{Reason: fmt.Sprintf("%s denies it unless its condition holds, and %v (failing closed)", where, err)}
			case s.Effect == "Deny" && holds:
				return Decision{Reason: where + " denies it"}
			case s.Effect == "Allow" && err != nil:
				notes = append(notes, fmt.Sprintf("%s would allow it, but %v (failing closed)", where, err))
			case s.Effect == "Allow" && !holds:
				notes = append(notes, fmt.Sprintf("%s would allow it, but its condition does not hold", where))
			case s.Effect == "Allow":
				for _, a := range actions {
					grants = append(grants, Grant{Policy: p.Name, Statement: i, Sid: s.Sid, Action: a})
				}
			}
		}
	}
	if len(grants) > 0 {
		return Decision{Allowed: true, Grants: grants}
	}
	reason := "no statement allows it"
	if len(notes) > 0 {
		reason += ": " + strings.Join(notes, "; ")
	}
	return Decision{Reason: reason}
}

func statementName(p Policy, i int) string {
	if sid := p.Statements[i].Sid; sid != "" {
		return fmt.Sprintf("%s statement %s", p.Name, sid)
	}
	return fmt.Sprintf("%s statement %d", p.Name, i)
}

// matchingActions are the patterns that match action; IAM compares actions
// case-insensitively.
func matchingActions(patterns []string, action string) []string {
	var out []string
	for _, p := range patterns {
		if wildcardMatch(strings.ToLower(p), strings.ToLower(action)) {
			out = append(out, p)
		}
	}
	return out
}

// conditionsHold is true when every condition holds; err says why one
// cannot be evaluated.
func conditionsHold(conds []Condition, req Request) (bool, error) {
	all := true
	for _, c := range conds {
		ok, err := c.holds(req)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	return all, nil
}

func (c Condition) holds(req Request) (bool, error) {
	set, op, _ := strings.Cut(c.Operator, ":")
	if op == "" {
		set, op = "", set
	}
	var match func(pattern, value string) bool
	switch op {
	case "StringEquals":
		match = func(p, v string) bool { return p == v }
	case "StringLike":
		match = wildcardMatch
	default:
		return false, fmt.Errorf("condition operator %q is not understood", c.Operator)
	}
	key := strings.ToLower(c.Key)
	if !slices.Contains(SupportedKeys, key) {
		return false, fmt.Errorf("condition key %q is not understood", c.Key)
	}
	if slices.ContainsFunc(req.Unknown, func(k string) bool { return strings.EqualFold(k, key) }) {
		return false, fmt.Errorf("the request's %s is not known", c.Key)
	}
	values, present := lookup(req.Context, key)
	anyMatches := func(v string) bool {
		return slices.ContainsFunc(c.Values, func(p string) bool { return match(p, v) })
	}
	switch set {
	case "ForAllValues":
		// True for an absent or empty key, as in IAM: every one of no values
		// matches. (Which is why a policy should not rely on it alone.)
		for _, v := range values {
			if !anyMatches(v) {
				return false, nil
			}
		}
		return true, nil
	case "ForAnyValue":
		return slices.ContainsFunc(values, anyMatches), nil
	case "":
		if !present {
			return false, nil
		}
		if len(values) != 1 {
			return false, fmt.Errorf("%s has %d values, and %s compares one (use ForAllValues: or ForAnyValue:)", c.Key, len(values), c.Operator)
		}
		return anyMatches(values[0]), nil
	}
	return false, fmt.Errorf("condition operator %q is not understood", c.Operator)
}

func lookup(ctx map[string][]string, key string) ([]string, bool) {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// wildcardMatch matches s against pattern, where * stands for any run of
// characters (":" and "/" included, as in IAM) and ? for exactly one.
func wildcardMatch(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(i) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			// Let the last * take one more character and try again.
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
