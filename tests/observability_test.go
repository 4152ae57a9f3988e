package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/metrics/emftest"
	"github.com/shop-serverless/shop/shared/naming"
)

// After the end-to-end run, TestMain reads every function's log group
// (/aws/lambda/<prefix>-<function>) from the run's start and checks two
// things (checkLogs):
//
//   - the secret scan: no line holds a password, a user or service token, a
//     payment token or a full e-mail address the run handed the stack
//     (secrets_test.go collects them); a finding names the function, the
//     kind of secret and the line, with the secret itself masked;
//   - the EMF check: every line that is an embedded metric format document
//     (it has _aws) is valid against the specification (shared/metrics/
//     emftest), and the metrics the run must have caused are there:
//     Invocations and Latency from every HTTP function that served a
//     request, and what expectMetric asked for (the helpers ask as they see
//     a saga end, an event handled or published).
//
// With SHOP_OBSERVABILITY_REPORT set, the report also goes to that file
// (make test prints it, as it prints the least-privilege report).

// logsSettle is how long the check waits for the last invocations' lines
// (consumers still handling the run's last events) to reach CloudWatch Logs.
const logsSettle = 3 * time.Second

// expectedMetric is a metric the run must have emitted: from the function
// named (any function when ""), with the dimensions given.
type expectedMetric struct {
	function string // manifest name
	name     string
	dims     string // "k=v,k=v" sorted; "" for any
}

var expected = struct {
	sync.Mutex
	m map[expectedMetric]string // -> why
}{m: map[expectedMetric]string{}}

// expectMetric records that the run must have emitted metric name from
// function (a manifest name, "" for any), with dims (name, value pairs).
func expectMetric(why, function, name string, dims ...string) {
	var kv []string
	for i := 0; i+1 < len(dims); i += 2 {
		kv = append(kv, dims[i]+"="+dims[i+1])
	}
	sort.Strings(kv)
	expected.Lock()
	defer expected.Unlock()
	k := expectedMetric{function: function, name: name, dims: strings.Join(kv, ",")}
	if _, ok := expected.m[k]; !ok {
		expected.m[k] = why
	}
}

// expectSagaEnd records the metrics a saga that ended so must have emitted.
func expectSagaEnd(o order) {
	switch o.Status {
	case "CONFIRMED":
		expectMetric("order "+o.ID+" confirmed", "orders-mark-confirmed", metrics.OrdersConfirmed)
		expectMetric("order "+o.ID+" confirmed", "orders-mark-confirmed", metrics.Revenue)
	case "CANCELLED":
		if o.CancelReason != "" {
			expectMetric("order "+o.ID+" cancelled", "orders-mark-cancelled", metrics.OrdersCancelled, metrics.DimReason, o.CancelReason)
		}
	}
}

// logLine is one line of a function's log group.
type logLine struct {
	function string
	message  string
}

// checkLogs runs the secret scan and the EMF check over the logs since
// start, prints the report and reports whether both passed.
func checkLogs(start time.Time) bool {
	began := time.Now()
	time.Sleep(logsSettle)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	var out bytes.Buffer
	ok := func() bool {
		cfg, err := awsconfig.Load(ctx)
		if err != nil {
			fmt.Fprintln(&out, "observability:", err)
			return false
		}
		set, err := manifest.Load("..")
		if err != nil {
			fmt.Fprintln(&out, "observability:", err)
			return false
		}
		lines, err := readLogs(ctx, cloudwatchlogs.NewFromConfig(cfg), set, start)
		if err != nil {
			fmt.Fprintln(&out, "observability:", err)
			return false
		}
		secretsOK := scanSecrets(&out, lines)
		emfOK := checkEMF(&out, lines, set)
		return secretsOK && emfOK
	}()
	fmt.Fprintf(&out, "(checked in %v)\n", time.Since(began).Round(10*time.Millisecond))
	fmt.Print(out.String())
	if path := os.Getenv("SHOP_OBSERVABILITY_REPORT"); path != "" {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			fmt.Println("observability: write report:", err)
			return false
		}
	}
	return ok
}

// readLogs reads every function's log group since start, several at once.
func readLogs(ctx context.Context, logs *cloudwatchlogs.Client, set *manifest.Set, start time.Time) ([]logLine, error) {
	fns := set.Functions()
	results := make([][]logLine, len(fns))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			group := "/aws/lambda/" + naming.Function(prefix(), fn.Name)
			pages := cloudwatchlogs.NewFilterLogEventsPaginator(logs, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String(group), StartTime: aws.Int64(start.UnixMilli()),
			})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if awserr.HasCode(err, "ResourceNotFoundException") {
					return
				}
				if err != nil {
					errs[i] = fmt.Errorf("log group %s: %w", group, err)
					return
				}
				for _, e := range page.Events {
					results[i] = append(results[i], logLine{function: fn.Name, message: aws.ToString(e.Message)})
				}
			}
		})
	}
	wg.Wait()
	var all []logLine
	for i := range fns {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, results[i]...)
	}
	return all, nil
}

// maxFindings bounds the lines a failing check prints.
const maxFindings = 20

// scanSecrets reports every line holding a secret the run used.
func scanSecrets(out *bytes.Buffer, lines []logLine) bool {
	secrets := used.all()
	kinds := map[string]int{}
	for _, s := range secrets {
		kinds[s.kind]++
	}
	var findings []string
	for _, l := range lines {
		for _, s := range secrets {
			if strings.Contains(l.message, s.value) {
				findings = append(findings, fmt.Sprintf("  %s: %s in %s", l.function, s.kind,
					strings.ReplaceAll(l.message, s.value, "<"+s.kind+">")))
				break
			}
		}
	}
	fmt.Fprintf(out, "secret scan: %d lines of %d functions' logs searched for %d secrets the run used (%s): ",
		len(lines), functionsIn(lines), len(secrets), describeKinds(kinds))
	if len(secrets) == 0 && len(lines) > 0 {
		fmt.Fprintln(out, "FAILED: the helpers recorded no secret, so the scan proves nothing")
		return false
	}
	if len(findings) == 0 {
		fmt.Fprintln(out, "none found")
		return true
	}
	fmt.Fprintf(out, "FAILED: %d lines show one\n", len(findings))
	for i, f := range findings {
		if i == maxFindings {
			fmt.Fprintf(out, "  ... and %d more\n", len(findings)-maxFindings)
			break
		}
		fmt.Fprintln(out, f)
	}
	return false
}

// checkEMF validates every EMF line and wants the expected metrics.
func checkEMF(out *bytes.Buffer, lines []logLine, set *manifest.Set) bool {
	type seenKey struct{ function, name string }
	seen := map[seenKey][]map[string]string{} // -> the dimensions of each value
	served := map[string]bool{}               // HTTP functions that logged a request
	kinds := map[string]string{}
	for _, fn := range set.Functions() {
		kinds[fn.Name] = fn.Kind
	}
	var invalid []string
	documents := 0
	for _, l := range lines {
		if kinds[l.function] == manifest.KindHTTP && strings.Contains(l.message, `"msg":"request"`) {
			served[l.function] = true
		}
		if !emftest.IsEMF([]byte(l.message)) {
			continue
		}
		documents++
		ms, err := emftest.Validate([]byte(l.message))
		if err != nil {
			invalid = append(invalid, fmt.Sprintf("  %s: %v: %s", l.function, err, l.message))
			continue
		}
		for _, m := range ms {
			if m.Namespace != metrics.Namespace || m.Dimensions[metrics.DimFunction] != l.function || m.Dimensions[metrics.DimService] == "" {
				invalid = append(invalid, fmt.Sprintf("  %s: %s in namespace %q with dimensions %v, want %s and this function's service and function",
					l.function, m.Name, m.Namespace, m.Dimensions, metrics.Namespace))
				continue
			}
			seen[seenKey{l.function, m.Name}] = append(seen[seenKey{l.function, m.Name}], m.Dimensions)
		}
	}
	for fn := range served {
		expectMetric("it served requests", fn, metrics.Invocations)
		expectMetric("it served requests", fn, metrics.Latency)
	}
	var missing []string
	expected.Lock()
	for want, why := range expected.m {
		found := false
		for k, dimsList := range seen {
			if k.name != want.name || (want.function != "" && k.function != want.function) {
				continue
			}
			for _, dims := range dimsList {
				if hasDims(dims, want.dims) {
					found = true
				}
			}
		}
		if !found {
			where := want.function
			if where == "" {
				where = "any function"
			}
			d := ""
			if want.dims != "" {
				d = " {" + want.dims + "}"
			}
			missing = append(missing, fmt.Sprintf("  %s%s from %s (%s)", want.name, d, where, why))
		}
	}
	nExpected := len(expected.m)
	expected.Unlock()
	sort.Strings(missing)
	emitters := map[string]bool{}
	for k := range seen {
		emitters[k.function] = true
	}
	fmt.Fprintf(out, "EMF check: %d EMF lines of %d functions validated against the specification, %d expected metrics: ", documents, len(emitters), nExpected)
	if len(invalid) == 0 && len(missing) == 0 {
		fmt.Fprintln(out, "all valid, all present")
		return true
	}
	fmt.Fprintf(out, "FAILED: %d invalid, %d missing\n", len(invalid), len(missing))
	for i, f := range append(invalid, missing...) {
		if i == maxFindings {
			fmt.Fprintln(out, "  ...")
			break
		}
		fmt.Fprintln(out, f)
	}
	return false
}

// hasDims reports whether dims has every k=v of want ("k=v,k=v").
func hasDims(dims map[string]string, want string) bool {
	if want == "" {
		return true
	}
	for _, kv := range strings.Split(want, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if dims[k] != v {
			return false
		}
	}
	return true
}

func functionsIn(lines []logLine) int {
	fns := map[string]bool{}
	for _, l := range lines {
		fns[l.function] = true
	}
	return len(fns)
}

func describeKinds(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
