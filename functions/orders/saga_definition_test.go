package orders_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/runtime"
)

// The saga's definition is checked here as a program: its structure (every
// Task bounded in time, retrying only what is transient, catching the
// rest), every path from start to end, and what each failure compensates.
// The end-to-end tests (tests/saga_test.go) then run it on the emulator.

const sagaName = "orders-saga"

// transient are the only errors a Retry may name: an idempotent step may be
// run again after them. Everything else is an answer and is caught.
var transient = []string{
	runtime.TransientErrorType, // any step error without a domain name (shared/runtime)
	"States.Timeout",           // a Task's TimeoutSeconds passed: the step is idempotent, so run it again
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
	"Lambda.Unknown",          // Lambda failed the invocation without saying why
	"Runtime.ExitError",       // the function's process exited before answering (a crash: AWS's and the emulator's name)
	"Sandbox.Timedout",        // the function ran past its own timeout (Lambda's name for it, on AWS and the emulator): the step is idempotent, so run it again
	"PaymentUnavailable",      // payments: the provider timed out, failed or its breaker is open
	"ReservationNotCommitted", // inventory: restock of a confirmation whose commit is still under way
}

// processDied are the errors a Task sees when its function's process dies
// mid-invocation (a crash, or Lambda ending it at its timeout); every Task
// retries them.
var processDied = []string{"Runtime.ExitError", "Lambda.Unknown", "Sandbox.Timedout"}

type retry = struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

type state struct {
	Type           string            `json:"Type"`
	Next           string            `json:"Next"`
	End            bool              `json:"End"`
	Default        string            `json:"Default"`
	TimeoutSeconds int               `json:"TimeoutSeconds"`
	Arguments      map[string]any    `json:"Arguments"`
	Assign         map[string]string `json:"Assign"`
	Choices        []struct {
		Condition string            `json:"Condition"`
		Assign    map[string]string `json:"Assign"`
		Next      string            `json:"Next"`
	} `json:"Choices"`
	Retry []retry `json:"Retry"`
	Catch []struct {
		ErrorEquals []string          `json:"ErrorEquals"`
		Assign      map[string]string `json:"Assign"`
		Next        string            `json:"Next"`
	} `json:"Catch"`
}

type definition struct {
	StartAt string           `json:"StartAt"`
	States  map[string]state `json:"States"`
}

func repoRoot() string { return filepath.Join("..", "..") }

func loadSaga(t *testing.T) (*deployment.Deployment, *deployment.StateMachine, definition) {
	t.Helper()
	set, err := manifest.Load(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	d, err := deployment.Build(set, deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	sm := d.StateMachine(sagaName)
	if sm == nil {
		t.Fatalf("no state machine %s in the model", sagaName)
	}
	var def definition
	if err := json.Unmarshal([]byte(sm.Definition), &def); err != nil {
		t.Fatal(err)
	}
	return d, sm, def
}

// stepOf is the manifest name of the function a Task invokes.
func stepOf(d *deployment.Deployment, s state) string {
	arn, _ := s.Arguments["FunctionName"].(string)
	for _, fn := range d.Functions {
		if strings.HasSuffix(arn, ":function:"+fn.FunctionName) {
			return fn.Name
		}
	}
	return ""
}

// domainErrors are the names the services' errors.go tables give their
// errors (errmap.New): what a step can report besides Transient.
func domainErrors(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "functions", "*", "errors.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	re := regexp.MustCompile(`errmap\.New\("([A-Za-z]+)"`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
	}
	names["InjectedFault"] = true // shared/faults: the test-only fault switch
	return names
}

func TestSagaDefinitionStructure(t *testing.T) {
	d, sm, def := loadSaga(t)
	known := domainErrors(t)
	for name, s := range def.States {
		if s.End {
			t.Errorf("%s: End: every path must end in an explicit Succeed or Fail state", name)
		}
		for _, next := range nexts(s) {
			if _, ok := def.States[next]; !ok {
				t.Errorf("%s: goes to %q, which is no state", name, next)
			}
		}
		if s.Type != "Task" {
			continue
		}
		step := stepOf(d, s)
		fn := d.Function(step)
		if fn == nil || fn.Kind != manifest.KindStep || !slices.Contains(sm.Steps, step) {
			t.Errorf("%s: invokes %v, which is not one of the saga's step functions", name, s.Arguments["FunctionName"])
			continue
		}
		if s.TimeoutSeconds <= fn.TimeoutSecs {
			t.Errorf("%s: TimeoutSeconds %d must exceed %s's own timeout %d s, so the function times out first and says so", name, s.TimeoutSeconds, step, fn.TimeoutSecs)
		}
		if len(s.Retry) == 0 {
			t.Errorf("%s: no Retry: a transient failure would end the order", name)
		}
		// A step whose process dies (after its write, before its answer) is
		// run again: it is idempotent, and the retry answers what the dead
		// one would have (tests/faults_test.go crashes steps on the emulator).
		for _, died := range processDied {
			if !slices.ContainsFunc(s.Retry, func(r retry) bool { return slices.Contains(r.ErrorEquals, died) }) {
				t.Errorf("%s: does not retry %s: a crashed invocation would end the order (or need an operator) instead of running again", name, died)
			}
		}
		for _, r := range s.Retry {
			for _, e := range r.ErrorEquals {
				if !slices.Contains(transient, e) {
					t.Errorf("%s: retries %s, which is not transient: a final answer must be caught, not repeated", name, e)
				}
			}
			if r.MaxAttempts < 1 || r.BackoffRate < 1.5 || r.MaxDelaySeconds == 0 || r.JitterStrategy != "FULL" {
				t.Errorf("%s: Retry %+v: want backoff (rate >= 1.5), a cap (MaxDelaySeconds) and full jitter", name, r)
			}
		}
		if compensates(s) {
			// With full jitter a retry waits half its backoff on average: the
			// compensation must keep trying well past an open breaker (the
			// provider's, the users API's) before an operator is needed.
			var expected time.Duration
			for _, r := range s.Retry {
				for k := range r.MaxAttempts {
					expected += time.Duration(min(float64(r.IntervalSeconds)*math.Pow(r.BackoffRate, float64(k)), float64(r.MaxDelaySeconds))*float64(time.Second)) / 2
				}
			}
			if expected < 10*breaker.DefaultOpenTimeout {
				t.Errorf("%s: its retries wait %v on average before giving up, want at least %v (ten open breakers)", name, expected, 10*breaker.DefaultOpenTimeout)
			}
		}
		if n := len(s.Catch); n == 0 || !slices.Equal(s.Catch[n-1].ErrorEquals, []string{"States.ALL"}) {
			t.Errorf("%s: the last Catch must be States.ALL, so no error leaves the order PENDING", name)
		}
		for _, c := range s.Catch {
			for _, e := range c.ErrorEquals {
				if !strings.HasPrefix(e, "States.") && !strings.HasPrefix(e, "Lambda.") && !slices.Contains(processDied, e) && e != runtime.TransientErrorType && !known[e] {
					t.Errorf("%s: catches %s, which no errors.go names (errmap.New)", name, e)
				}
			}
		}
	}
	// No loops: with every state leading somewhere that exists and none
	// ending by End, a graph without cycles ends every path in Succeed or Fail.
	if cycle := findCycle(def); cycle != nil {
		t.Errorf("the definition loops: %v", cycle)
	}
	for name := range def.States {
		if !reachable(def, name) {
			t.Errorf("%s: unreachable", name)
		}
	}
}

// The trace is carried through the saga in the data, since the local
// emulator traces no state machine: the state that starts assigns the
// input's traceHeader (or "" for an input without one: on AWS a JSONata
// expression on a missing field fails the execution), and every Task
// passes it to its step, whose runtime takes it out of the input before
// decoding and continues it (shared/runtime's StartStep).
func TestSagaCarriesTheTraceToEveryStep(t *testing.T) {
	_, _, def := loadSaga(t)
	begin := def.States[def.StartAt]
	const assign = "{% $exists($states.input.traceHeader) ? $states.input.traceHeader : '' %}"
	if got := begin.Assign["traceHeader"]; got != assign {
		t.Errorf("%s assigns traceHeader %q, want %q", def.StartAt, got, assign)
	}
	for name, s := range def.States {
		if name != def.StartAt && s.Assign["traceHeader"] != "" {
			t.Errorf("%s assigns traceHeader again", name)
		}
		if s.Type != "Task" {
			continue
		}
		payload, _ := s.Arguments["Payload"].(map[string]any)
		if got := payload["traceHeader"]; got != "{% $traceHeader %}" {
			t.Errorf("%s: Payload traceHeader = %v, want {%% $traceHeader %%}", name, got)
		}
	}
}

// compensates tells a Task that must not give up lightly: one whose failure
// leaves the saga to an operator (it is caught only into a Fail state).
func compensates(s state) bool {
	return len(s.Catch) == 1 && (s.Catch[0].Next == "CompensationFailed" || s.Catch[0].Next == "CommitFailed")
}

func nexts(s state) []string {
	var out []string
	if s.Next != "" {
		out = append(out, s.Next)
	}
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	if s.Default != "" {
		out = append(out, s.Default)
	}
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	return out
}

func findCycle(def definition) []string {
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch mark[n] {
		case visiting:
			return append(slices.Clone(path), n)
		case done:
			return nil
		}
		mark[n] = visiting
		path = append(path, n)
		for _, next := range nexts(def.States[n]) {
			if c := visit(next); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		mark[n] = done
		return nil
	}
	return visit(def.StartAt)
}

func reachable(def definition, target string) bool {
	seen := map[string]bool{}
	queue := []string{def.StartAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == target {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		queue = append(queue, nexts(def.States[n])...)
	}
	return false
}

// run walks the definition for an execution whose input has action, with
// failures naming the error each step fails with (after its retries), and
// returns the steps run in order, the terminal state and the last reason
// assigned. Only what the saga uses is interpreted: literal Assign values
// and Choice conditions of the form $order.action = '<action>'.
func run(t *testing.T, d *deployment.Deployment, def definition, action string, failures map[string]string) (steps []string, end, reason string) {
	t.Helper()
	vars := map[string]string{}
	assign := func(a map[string]string) {
		for k, v := range a {
			if !strings.HasPrefix(v, "{%") {
				vars[k] = v
			}
		}
	}
	cond := regexp.MustCompile(`^\{% \$order\.action = '([a-z]+)' %\}$`)
	name := def.StartAt
	for i := 0; i < 100; i++ {
		s := def.States[name]
		assign(s.Assign)
		switch s.Type {
		case "Succeed", "Fail":
			return steps, name, vars["reason"]
		case "Pass":
			name = s.Next
		case "Choice":
			next := s.Default
			for _, c := range s.Choices {
				m := cond.FindStringSubmatch(c.Condition)
				if m == nil {
					t.Fatalf("%s: condition %q is not one this test interprets", name, c.Condition)
				}
				if m[1] == action {
					assign(c.Assign)
					next = c.Next
					break
				}
			}
			name = next
		case "Task":
			step := stepOf(d, s)
			steps = append(steps, step)
			err, failed := failures[step]
			if !failed {
				name = s.Next
				continue
			}
			caught := false
			for _, c := range s.Catch {
				if slices.Contains(c.ErrorEquals, err) || slices.Contains(c.ErrorEquals, "States.ALL") {
					assign(c.Assign)
					name, caught = c.Next, true
					break
				}
			}
			if !caught {
				t.Fatalf("%s: %s is not caught", name, err)
			}
		default:
			t.Fatalf("%s: type %s is not one this test interprets", name, s.Type)
		}
	}
	t.Fatal("no end after 100 states")
	return nil, "", ""
}

// Each failure enters the reverse chain at the right point: nothing is
// refunded that cannot have been charged, every reservation is released,
// and the order ends with the reason of what went wrong.
func TestSagaCompensatesInReverse(t *testing.T) {
	d, _, def := loadSaga(t)
	const (
		reserve, charge, confirm, commit = "inventory-reserve", "payments-charge", "orders-mark-confirmed", "inventory-commit"
		refund, release, restock, cancel = "payments-refund", "inventory-release", "inventory-restock", "orders-mark-cancelled"
	)
	tests := []struct {
		name       string
		action     string
		failures   map[string]string
		wantSteps  []string
		wantEnd    string
		wantReason string
	}{
		{"happy path", "place", nil, []string{reserve, charge, confirm, commit}, "Confirmed", ""},
		{"out of stock", "place", map[string]string{reserve: "InsufficientStock"}, []string{reserve, release, cancel}, "Cancelled", "OUT_OF_STOCK"},
		{"product gone", "place", map[string]string{reserve: "ProductNotFound"}, []string{reserve, release, cancel}, "Cancelled", "OUT_OF_STOCK"},
		{"reserve keeps failing", "place", map[string]string{reserve: runtime.TransientErrorType}, []string{reserve, release, cancel}, "Cancelled", "INTERNAL"},
		{"declined", "place", map[string]string{charge: "PaymentDeclined"}, []string{reserve, charge, release, cancel}, "Cancelled", "PAYMENT_DECLINED"},
		{"provider unavailable", "place", map[string]string{charge: "PaymentUnavailable"}, []string{reserve, charge, refund, release, cancel}, "Cancelled", "PAYMENT_UNAVAILABLE"},
		{"charge timed out", "place", map[string]string{charge: "States.Timeout"}, []string{reserve, charge, refund, release, cancel}, "Cancelled", "PAYMENT_UNAVAILABLE"},
		{"charge bug", "place", map[string]string{charge: "PaymentCancelled"}, []string{reserve, charge, refund, release, cancel}, "Cancelled", "INTERNAL"},
		{"cancel requested before confirmation", "place", map[string]string{confirm: "CancelRequested"}, []string{reserve, charge, confirm, refund, release, cancel}, "Cancelled", "CANCELLED_BY_USER"},
		{"confirm fails", "place", map[string]string{confirm: "InjectedFault"}, []string{reserve, charge, confirm, refund, release, cancel}, "Cancelled", "INTERNAL"},
		{"commit keeps failing", "place", map[string]string{commit: runtime.TransientErrorType}, []string{reserve, charge, confirm, commit}, "CommitFailed", ""},
		{"refund keeps failing", "place", map[string]string{charge: "PaymentUnavailable", refund: "PaymentUnavailable"}, []string{reserve, charge, refund}, "CompensationFailed", "PAYMENT_UNAVAILABLE"},
		{"cancel after confirmation", "cancel", nil, []string{refund, restock, cancel}, "Cancelled", "CANCELLED_BY_USER"},
		{"unknown action", "refund", nil, nil, "UnknownAction", "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, end, reason := run(t, d, def, tt.action, tt.failures)
			if !slices.Equal(steps, tt.wantSteps) || end != tt.wantEnd {
				t.Errorf("ran %v and ended in %s, want %v and %s", steps, end, tt.wantSteps, tt.wantEnd)
			}
			if tt.wantReason != "" && reason != tt.wantReason {
				t.Errorf("reason %q, want %q", reason, tt.wantReason)
			}
		})
	}
}

// The npm package asl-validator checks the rendered definition (step ARNs
// in place) against the Amazon States Language schema, offline. make test
// installs it and names it in SHOP_ASL_VALIDATOR.
func TestSagaDefinitionValidates(t *testing.T) {
	validator := os.Getenv("SHOP_ASL_VALIDATOR")
	if validator == "" {
		t.Skip("SHOP_ASL_VALIDATOR is not set: the npm asl-validator did not check the saga (make test installs it and sets it)")
	}
	_, sm, _ := loadSaga(t)
	path := filepath.Join(t.TempDir(), "saga.asl.json")
	if err := os.WriteFile(path, []byte(sm.Definition), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(validator, "--json-path", path).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator: %v\n%s", err, out)
	}
}

// The README's saga diagram is made from the definition; this test fails
// with the diagram to paste when the two differ.
func TestREADMESagaDiagramIsTheDefinition(t *testing.T) {
	d, _, def := loadSaga(t)
	want := mermaid(d, def)
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- saga diagram: made from functions/orders/saga.asl.json (functions/orders/saga_definition_test.go) -->\n", "<!-- end of saga diagram -->"
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no saga diagram between %q and %q; it should hold:\n%s", begin, end, want)
	}
	if got := text[i+len(begin) : j]; got != want {
		t.Fatalf("README.md's saga diagram is not the definition's; replace it with:\n%s", want)
	}
}

// mermaid draws the definition: one node per state (Tasks named by their
// step), edges labelled with what the Choice or Catch matched.
func mermaid(d *deployment.Deployment, def definition) string {
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart TD\n")
	// States in the order a reader meets them: breadth first from StartAt,
	// the way forward before the ways back.
	var names []string
	seen := map[string]bool{}
	for queue := []string{def.StartAt}; len(queue) > 0; queue = queue[1:] {
		if n := queue[0]; !seen[n] {
			seen[n] = true
			names = append(names, n)
			queue = append(queue, nexts(def.States[n])...)
		}
	}
	for _, n := range names {
		s := def.States[n]
		switch s.Type {
		case "Task":
			fmt.Fprintf(&b, "  %s[\"%s<br/><small>%s</small>\"]\n", n, n, stepOf(d, s))
		case "Choice":
			fmt.Fprintf(&b, "  %s{%s}\n", n, n)
		case "Succeed":
			fmt.Fprintf(&b, "  %s([%s])\n", n, n)
		case "Fail":
			fmt.Fprintf(&b, "  %s[/%s/]\n", n, n)
		default:
			fmt.Fprintf(&b, "  %s(%s)\n", n, n)
		}
	}
	for _, n := range names {
		s := def.States[n]
		if s.Next != "" {
			fmt.Fprintf(&b, "  %s --> %s\n", n, s.Next)
		}
		for _, c := range s.Choices {
			m := regexp.MustCompile(`'([a-z]+)'`).FindStringSubmatch(c.Condition)
			fmt.Fprintf(&b, "  %s -- %s --> %s\n", n, m[1], c.Next)
		}
		if s.Default != "" {
			fmt.Fprintf(&b, "  %s -. other .-> %s\n", n, s.Default)
		}
		for _, c := range s.Catch {
			label := strings.Join(c.ErrorEquals, ", ")
			if len(c.ErrorEquals) > 3 {
				label = c.ErrorEquals[0] + ", transient"
			}
			if r := c.Assign["reason"]; r != "" {
				label += " / " + r
			}
			fmt.Fprintf(&b, "  %s -. \"%s\" .-> %s\n", n, label, c.Next)
		}
	}
	b.WriteString("```\n")
	return b.String()
}
