package deployment

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/metrics"
)

func observabilityModel(t *testing.T, prefix string) *Deployment {
	t.Helper()
	d, err := Build(load(t), Params{Prefix: prefix, Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every alarm watches one metric or one metric math expression, notifies
// nothing of its own (the targets add the topic), treats missing data as
// fine, and says what it means and where to look, within CloudWatch's
// limits.
func TestAlarmsAreWellFormed(t *testing.T) {
	d := observabilityModel(t, "shop")
	seen := map[string]bool{}
	for _, a := range d.Observability.Alarms {
		if seen[a.Name] {
			t.Errorf("alarm %s twice", a.Name)
		}
		seen[a.Name] = true
		single := a.MetricName != ""
		if single == (len(a.Queries) > 0) {
			t.Errorf("%s: want exactly one of a metric and metric math", a.Name)
		}
		if single && (a.Namespace == "" || len(a.Dimensions) == 0 || a.Period == 0 || (a.Statistic == "") == (a.ExtendedStatistic == "")) {
			t.Errorf("%s: a metric alarm needs a namespace, dimensions, a period and one statistic: %+v", a.Name, a)
		}
		if len(a.Queries) > 0 {
			returned := 0
			for _, q := range a.Queries {
				if q.ReturnData {
					returned++
				}
				if (q.Expression == "") == (q.Metric == nil) {
					t.Errorf("%s: query %s wants an expression or a metric", a.Name, q.ID)
				}
			}
			if returned != 1 {
				t.Errorf("%s: %d queries return data, want 1", a.Name, returned)
			}
		}
		if a.TreatMissingData != "notBreaching" {
			t.Errorf("%s: TreatMissingData %q", a.Name, a.TreatMissingData)
		}
		if a.EvaluationPeriods < 1 || a.DatapointsToAlarm < 1 || a.DatapointsToAlarm > a.EvaluationPeriods {
			t.Errorf("%s: %d of %d periods", a.Name, a.DatapointsToAlarm, a.EvaluationPeriods)
		}
		if len(a.Description) < 100 || len(a.Description) > 1024 {
			t.Errorf("%s: description of %d characters, want an explanation within CloudWatch's 1024", a.Name, len(a.Description))
		}
		if len(a.Name) > 255 {
			t.Errorf("%s: name longer than 255", a.Name)
		}
		if !strings.HasPrefix(a.Name, "shop-") {
			t.Errorf("%s: not named for the stack", a.Name)
		}
	}
	if !slices.IsSortedFunc(d.Observability.Alarms, func(a, b Alarm) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("alarms are not sorted by name")
	}
	if d.Observability.Topic.Name != "shop-alarms" || d.Observability.Topic.ARN != "arn:aws:sns:us-east-1:000000000000:shop-alarms" {
		t.Errorf("topic %+v", d.Observability.Topic)
	}
}

// The alarms the issue asks for, each on its own metric and dimensions,
// for every function, queue and reason of the model.
func TestAlarmsCoverTheModel(t *testing.T) {
	d := observabilityModel(t, "shop")
	set := load(t)
	byMetric := map[string][]Alarm{}
	for _, a := range d.Observability.Alarms {
		byMetric[a.Namespace+"/"+a.MetricName] = append(byMetric[a.Namespace+"/"+a.MetricName], a)
	}
	has := func(metric string, dims map[string]string) *Alarm {
		for _, a := range byMetric[metric] {
			if equalDims(a.Dimensions, dims) {
				return &a
			}
		}
		t.Errorf("no %s alarm with dimensions %v", metric, dims)
		return nil
	}

	// The API's 5xx rate: metric math over 5xx and Count of the API's stage.
	math := byMetric["/"]
	if len(math) != 1 {
		t.Fatalf("%d metric math alarms, want 1 (the API's 5xx rate)", len(math))
	}
	var names []string
	for _, q := range math[0].Queries {
		if q.Metric != nil {
			names = append(names, q.Metric.MetricName)
			if q.Metric.Namespace != "AWS/ApiGateway" || !equalDims(q.Metric.Dimensions, map[string]string{"ApiId": APIIDPlaceholder, "Stage": Stage}) {
				t.Errorf("5xx rate query %s: %+v", q.ID, q.Metric)
			}
		}
	}
	if slices.Sort(names); !slices.Equal(names, []string{"5xx", "Count"}) {
		t.Errorf("5xx rate over %v", names)
	}

	var throttles, latency, breakers, dlqs int
	for _, fn := range d.Functions {
		if fn.LocalOnly {
			for _, a := range d.Observability.Alarms {
				if strings.Contains(a.Name, fn.Name) {
					t.Errorf("alarm %s on the simulator's %s", a.Name, fn.Name)
				}
			}
			continue
		}
		throttles++
		has("AWS/Lambda/Throttles", map[string]string{"FunctionName": fn.FunctionName})
		if fn.Route != nil {
			latency++
			if a := has("shop/Latency", map[string]string{"service": fn.Service, "function": fn.Name}); a != nil && a.ExtendedStatistic != "p99" {
				t.Errorf("%s: statistic %s, want p99", a.Name, a.ExtendedStatistic)
			}
		}
		for _, q := range []*Queue{consumerDLQ(fn), relayDLQ(fn)} {
			if q != nil {
				dlqs++
				has("AWS/SQS/ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": q.Name})
			}
		}
		for _, m := range set.Functions() {
			if m.Name == fn.Name && (len(m.Permissions.Calls) > 0 || m.Permissions.PaymentProvider) {
				breakers++
				has("shop/BreakerTransitions", map[string]string{"service": fn.Service, "function": fn.Name, "state": "open"})
			}
		}
	}
	for metric, want := range map[string]int{
		"AWS/Lambda/Throttles": throttles, "shop/Latency": latency, "shop/BreakerTransitions": breakers,
		"AWS/SQS/ApproximateNumberOfMessagesVisible": dlqs,
	} {
		if got := len(byMetric[metric]); got != want {
			t.Errorf("%d %s alarms, want %d", got, metric, want)
		}
	}
	if breakers == 0 || dlqs == 0 || latency == 0 {
		t.Errorf("breakers %d, dead-letter queues %d, http functions %d: the manifests have each", breakers, dlqs, latency)
	}

	// Cancellations: one alarm per reason the saga assigns, on the step
	// that records them.
	var reasons []string
	for _, a := range byMetric["shop/"+metrics.OrdersCancelled] {
		if a.Dimensions["function"] != "orders-mark-cancelled" || a.Dimensions["service"] != "orders" {
			t.Errorf("%s: dimensions %v, want the step orders-mark-cancelled", a.Name, a.Dimensions)
		}
		reasons = append(reasons, a.Dimensions["reason"])
	}
	want := []string{"CANCELLED_BY_USER", "INTERNAL", "OUT_OF_STOCK", "PAYMENT_DECLINED", "PAYMENT_UNAVAILABLE"}
	if slices.Sort(reasons); !slices.Equal(reasons, want) {
		t.Errorf("cancellation alarms for %v, want %v", reasons, want)
	}
}

func consumerDLQ(fn Function) *Queue {
	if fn.Consumer == nil {
		return nil
	}
	return &fn.Consumer.DeadLetterQueue
}

func relayDLQ(fn Function) *Queue {
	if fn.Relay == nil {
		return nil
	}
	return &fn.Relay.DeadLetterQueue
}

func equalDims(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The reasons come from what the definition assigns, and the recorder from
// where it passes them; a definition passing them to two steps is refused.
func TestCancellationsReadTheDefinition(t *testing.T) {
	def := func(tasks ...string) string {
		states := `"A":{"Type":"Pass","Assign":{"reason":"FIRST","other":"X"}},"B":{"Type":"Choice","Choices":[{"Assign":{"reason":"SECOND"}}]},"C":{"Type":"Pass","Assign":{"reason":"{% $x %}"}}`
		for i, task := range tasks {
			states += `,"T` + string(rune('0'+i)) + `":{"Type":"Task","Arguments":{"FunctionName":"${step:` + task + `}","Payload":{"orderId":"{% $o %}","reason":"{% $reason %}"}}}`
		}
		return `{"StartAt":"A","States":{` + states + `}}`
	}
	set := func(src string) *manifest.Set {
		return &manifest.Set{Services: []*manifest.Service{{Name: "orders", StateMachines: []*manifest.StateMachine{{Name: "saga", Service: "orders", Source: src}}}}}
	}
	got, err := cancellations(set(def("orders-mark-cancelled")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].recorder != "orders-mark-cancelled" || !slices.Equal(got[0].reasons, []string{"FIRST", "SECOND"}) || got[0].stateMachine != "orders-saga" {
		t.Errorf("got %+v", got)
	}
	if _, err := cancellations(set(def("a", "b"))); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("two recorders: %v", err)
	}
	if _, err := cancellations(set(def())); err == nil {
		t.Error("reasons and no recorder: no error")
	}
}

// The dashboard's body is JSON CloudWatch takes: widgets with a region and
// lines, showing every DLQ, every http function and the business figures.
func TestDashboardShowsTheModel(t *testing.T) {
	d := observabilityModel(t, "shop")
	body := d.Observability.Dashboard.Body
	var dash struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string  `json:"title"`
				Region  string  `json:"region"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	if d.Observability.Dashboard.Name != "shop" {
		t.Errorf("dashboard %q, want the prefix", d.Observability.Dashboard.Name)
	}
	for _, w := range dash.Widgets {
		if w.Type != "metric" || w.Properties.Region != "us-east-1" || len(w.Properties.Metrics) == 0 || w.Properties.Title == "" {
			t.Errorf("widget %+v", w)
		}
	}
	var wants []string
	for _, fn := range d.Routes() {
		if !fn.LocalOnly {
			wants = append(wants, `"function","`+fn.Name+`"`)
		}
	}
	for _, fn := range d.Functions {
		if !fn.LocalOnly {
			wants = append(wants, `"FunctionName","`+fn.FunctionName+`"`)
		}
		if q := consumerDLQ(fn); q != nil {
			wants = append(wants, q.Name)
		}
		if q := relayDLQ(fn); q != nil {
			wants = append(wants, q.Name)
		}
	}
	wants = append(wants, metrics.OrdersConfirmed, metrics.OrdersCancelled, metrics.Revenue, metrics.EventsPublished,
		metrics.EventsConsumed, metrics.Errors, `"5xx"`, APIIDPlaceholder, "OUT_OF_STOCK")
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard shows no %s", w)
		}
	}
	if len(body) > 1<<20 {
		t.Errorf("dashboard body of %d bytes: CloudWatch takes 1 MiB", len(body))
	}
}

// X-Ray limits a rule's name to 32 characters; the longest prefix must fit.
func TestSamplingRules(t *testing.T) {
	d := observabilityModel(t, strings.Repeat("p", 20))
	rules := d.Observability.SamplingRules
	if len(rules) != 2 {
		t.Fatalf("%d sampling rules, want the default and placing orders", len(rules))
	}
	for _, r := range rules {
		if len(r.Name) > SamplingRuleNameMax {
			t.Errorf("sampling rule %q: %d characters, X-Ray allows %d", r.Name, len(r.Name), SamplingRuleNameMax)
		}
	}
	place := rules[1]
	if fn := d.Function(placeOrderFunction); place.HTTPMethod != fn.Route.Method || place.URLPath != fn.Route.Path {
		t.Errorf("place-order rule %+v, want %s's route", place, placeOrderFunction)
	}
	if place.FixedRate <= rules[0].FixedRate || place.Priority >= rules[0].Priority {
		t.Errorf("placing orders is not sampled more, first: %+v vs %+v", place, rules[0])
	}
}

// Every log group of the model gets the stack's retention from the
// targets, which create each one; the model must have a retention to give.
func TestEveryLogGroupHasARetention(t *testing.T) {
	d := observabilityModel(t, "shop")
	if d.Settings.LogRetentionDays <= 0 {
		t.Fatalf("log retention %d", d.Settings.LogRetentionDays)
	}
	groups := d.LogGroups()
	want := len(d.Functions) + 1 + len(d.StateMachines)
	if len(groups) != want || !slices.IsSorted(groups) || len(slices.Compact(slices.Clone(groups))) != want {
		t.Errorf("log groups %v: want %d, sorted, each once", groups, want)
	}
	for _, sm := range d.StateMachines {
		if !sm.Tracing || sm.LogGroup == "" {
			t.Errorf("state machine %s: tracing %v, log group %q", sm.Name, sm.Tracing, sm.LogGroup)
		}
	}
	for _, fn := range d.Functions {
		if fn.Tracing != Tracing {
			t.Errorf("function %s: tracing %q", fn.Name, fn.Tracing)
		}
	}
}

func TestObservabilityIsDeterministic(t *testing.T) {
	a, err := json.Marshal(observabilityModel(t, "shop").Observability)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, _ := json.Marshal(observabilityModel(t, "shop").Observability)
		if string(a) != string(b) {
			t.Fatal("two builds of the same manifests differ")
		}
	}
}
