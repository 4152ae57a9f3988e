package deployment

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/metrics"
)

// Observability is what tells an operator the stack is unwell and where to
// look: the alarms and the topic they notify, the dashboard, and the X-Ray
// sampling rules. Terraform maps all of it (infra/modules/observability);
// the local deployer applies the topic, the alarms and the dashboard (the
// emulator has no X-Ray API: no sampling rules there).
//
// Every alarm watches one metric (or, for the API's 5xx rate, one metric
// math expression over two) with its own dimensions, so its state names
// one thing that went wrong; each description says what it means and
// where to look.
type Observability struct {
	// APIIDPlaceholder is the text standing for the API's id in the
	// alarms' dimensions and the dashboard's body (APIIDPlaceholder).
	APIIDPlaceholder string `json:"apiIdPlaceholder"`

	Topic         Topic          `json:"topic"`
	Alarms        []Alarm        `json:"alarms"`
	Dashboard     Dashboard      `json:"dashboard"`
	SamplingRules []SamplingRule `json:"samplingRules"`
}

// Topic is the SNS topic every alarm notifies, entering ALARM and back to
// OK; its subscribers are the target's (Terraform: alarm_subscribers).
type Topic struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Alarm is a CloudWatch metric alarm. It watches either one metric
// (Namespace, MetricName, Dimensions, Statistic or ExtendedStatistic,
// Period) or a metric math expression (Queries); never both.
type Alarm struct {
	Name        string `json:"name"`
	Description string `json:"description"`

	Namespace         string            `json:"namespace,omitempty"`
	MetricName        string            `json:"metricName,omitempty"`
	Dimensions        map[string]string `json:"dimensions,omitempty"`
	Statistic         string            `json:"statistic,omitempty"`
	ExtendedStatistic string            `json:"extendedStatistic,omitempty"`
	Period            int               `json:"period,omitempty"`

	Queries []MetricQuery `json:"queries,omitempty"`

	ComparisonOperator string  `json:"comparisonOperator"`
	Threshold          float64 `json:"threshold"`
	EvaluationPeriods  int     `json:"evaluationPeriods"`
	DatapointsToAlarm  int     `json:"datapointsToAlarm"`
	// TreatMissingData is notBreaching for every alarm: most of these
	// metrics are written only when something happens (an error, a
	// cancellation, a message in a dead-letter queue), so no data means
	// nothing went wrong.
	TreatMissingData string `json:"treatMissingData"`
}

// MetricQuery is one member of a metric math alarm: an expression over
// the other members' ids (ReturnData: the one the alarm compares), or a
// metric.
type MetricQuery struct {
	ID         string      `json:"id"`
	Expression string      `json:"expression,omitempty"`
	Label      string      `json:"label,omitempty"`
	ReturnData bool        `json:"returnData"`
	Metric     *MetricStat `json:"metric,omitempty"`
}

// MetricStat is a metric with the statistic a query takes of it.
type MetricStat struct {
	Namespace  string            `json:"namespace"`
	MetricName string            `json:"metricName"`
	Dimensions map[string]string `json:"dimensions"`
	Period     int               `json:"period"`
	Stat       string            `json:"stat"`
}

// Dashboard is a CloudWatch dashboard; Body is its JSON, built here.
type Dashboard struct {
	Name string `json:"name"`
	Body string `json:"body"`
}

// SamplingRule is an X-Ray sampling rule. Lambda decides by itself which
// invocations of a function it traces (a fixed rate, not these rules);
// the rules govern every other X-Ray client that samples new traces, such
// as the functions on Knative (shared/tracing samples centrally there).
// Rules are the account's, not the stack's: ServiceName is "*" because a
// span is named by the manifest function name (orders-create), which
// carries no prefix; the rule's name does.
type SamplingRule struct {
	Name          string  `json:"name"`
	Priority      int     `json:"priority"`
	FixedRate     float64 `json:"fixedRate"`
	ReservoirSize int     `json:"reservoirSize"`
	ServiceName   string  `json:"serviceName"`
	ServiceType   string  `json:"serviceType"`
	Host          string  `json:"host"`
	HTTPMethod    string  `json:"httpMethod"`
	URLPath       string  `json:"urlPath"`
	ResourceARN   string  `json:"resourceArn"`
	Version       int     `json:"version"`
}

// APIIDPlaceholder stands for the HTTP API's id in the alarms' dimensions
// and the dashboard's body: API Gateway assigns it, so only a target that
// has created the API knows it. Each target replaces it, as text, once it
// does (the local deployer after ensureAPI, Terraform from
// module.http_api).
const APIIDPlaceholder = "{apiId}"

// Alarm settings. Thresholds an operator tunes per stack are the model's
// defaults here; the periods are CloudWatch's standard one and five
// minutes.
const (
	// The API: 5xx answers above this percentage of all requests, in 3 of
	// the last 5 minutes.
	API5xxRatePercent = 5
	// An http function's p99 latency above LatencyP99Ms (or
	// SlowLatencyP99Ms for a function that waits on a password hash, on
	// other services or on the payment provider by design), in 2 of the
	// last 3 five-minute periods.
	LatencyP99Ms     = 1000
	SlowLatencyP99Ms = 3000
	// More than this many orders cancelled for one reason in five minutes.
	CancellationsPerFiveMinutes = 10

	// TopicSuffix names the alarms' topic: <prefix>-alarms.
	TopicSuffix = "alarms"

	treatMissingData = "notBreaching"
	minute           = 60
	fiveMinutes      = 5 * minute
)

// CancelReasonVariable is the state machine variable that holds why an
// order is cancelled, and the member of the payload that hands it to the
// step recording the cancellation (which counts metrics.OrdersCancelled
// by it, as metrics.DimReason). The reasons are the values the definition
// assigns to it; the recording step is the one its payload goes to.
const CancelReasonVariable = "reason"

// placeOrderFunction is the http function that places orders: the one path
// traced at a higher rate.
const placeOrderFunction = "orders-create"

// Sampling rates: a request a second and 5% of the rest by default; half of
// the orders placed, so the journey of a failing order is most likely there.
const (
	defaultSamplingPriority  = 1000
	defaultSamplingRate      = 0.05
	defaultSamplingReservoir = 1
	placeOrderPriority       = 100
	placeOrderRate           = 0.5
	placeOrderReservoir      = 5
	samplingRuleVersion      = 1
)

// SamplingRuleNameMax is X-Ray's limit on a sampling rule's name.
const SamplingRuleNameMax = 32

// observability models the stack's alarms, topic, dashboard and sampling
// rules. It reads d's functions, queues, API and state machines, and the
// cancel reasons from the state machines' definitions in set. The
// simulators' functions (localOnly) get none: they stand in for an
// outside system in test stacks.
func observability(p Params, set *manifest.Set, d *Deployment) (*Observability, error) {
	topic := named(p, TopicSuffix)
	o := &Observability{
		APIIDPlaceholder: APIIDPlaceholder,
		Topic:            Topic{Name: topic, ARN: fmt.Sprintf("arn:%s:sns:%s:%s:%s", p.Partition, p.Region, p.Account, topic)},
		Alarms:           []Alarm{},
		SamplingRules:    []SamplingRule{},
	}
	dash := dashboard{region: p.Region}
	manifests := map[string]*manifest.Function{}
	for _, fn := range set.Functions() {
		manifests[fn.Name] = fn
	}
	cancels, err := cancellations(set)
	if err != nil {
		return nil, err
	}

	// The API.
	o.Alarms = append(o.Alarms, api5xxAlarm(p, d))
	apiDims := map[string]string{"ApiId": APIIDPlaceholder, "Stage": d.API.Stage}
	dash.add("API requests and errors ("+d.API.Name+")", "Sum", []any{
		metricLine("AWS/ApiGateway", "Count", apiDims, "requests"),
		metricLine("AWS/ApiGateway", "4xx", apiDims, "4xx"),
		metricLine("AWS/ApiGateway", "5xx", apiDims, "5xx"),
	})
	dash.add("API latency (p50, p99)", "p99", []any{
		metricLine("AWS/ApiGateway", "Latency", apiDims, "p50", "stat", "p50"),
		metricLine("AWS/ApiGateway", "Latency", apiDims, "p99", "stat", "p99"),
	})

	// Latency of every http function.
	var latency []any
	for _, fn := range d.Routes() {
		if fn.LocalOnly {
			continue
		}
		o.Alarms = append(o.Alarms, latencyAlarm(p, fn, hasBreaker(manifests[fn.Name])))
		latency = append(latency, metricLine(metrics.Namespace, metrics.Latency, shopDims(fn), fn.Name))
	}
	dash.add("Latency p99 per http function (ms)", "p99", latency)
	dash.add("Errors per function (5xx, failed steps, failed batch items)", "Sum", []any{
		search(metrics.Namespace, []string{metrics.DimFunction, metrics.DimService}, metrics.Errors, "Sum", "errors"),
	})

	// Every dead-letter queue.
	var depth []any
	for _, q := range deadLetterQueues(d) {
		o.Alarms = append(o.Alarms, deadLetterAlarm(p, q))
		depth = append(depth, metricLine("AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": q.queue.Name}, q.queue.Name))
	}
	dash.add("Dead-letter queues: messages waiting", "Maximum", depth)

	// The saga's outcomes.
	outcomes := []any{search(metrics.Namespace, []string{metrics.DimFunction, metrics.DimService}, metrics.OrdersConfirmed, "Sum", "confirmed")}
	for _, c := range cancels {
		fn := d.Function(c.recorder)
		if fn == nil {
			return nil, fmt.Errorf("deployment: state machine %s: the step recording cancellations, %s, is no function of the model", c.stateMachine, c.recorder)
		}
		for _, reason := range c.reasons {
			o.Alarms = append(o.Alarms, cancellationAlarm(p, d, c, fn, reason))
			dims := shopDims(fn)
			dims[metrics.DimReason] = reason
			outcomes = append(outcomes, metricLine(metrics.Namespace, metrics.OrdersCancelled, dims, "cancelled "+reason))
		}
	}
	dash.add("Orders confirmed and cancelled (by reason)", "Sum", outcomes)
	dash.add("Revenue per currency (minor units)", "Sum", []any{
		search(metrics.Namespace, []string{metrics.DimCurrency, metrics.DimFunction, metrics.DimService}, metrics.Revenue, "Sum", "revenue"),
	})
	dash.add("Events published, consumed and dead-lettered", "Sum", []any{
		search(metrics.Namespace, []string{metrics.DimFunction, metrics.DimService}, metrics.EventsPublished, "Sum", "published"),
		search(metrics.Namespace, []string{metrics.DimFunction, metrics.DimService}, metrics.EventsConsumed, "Sum", "consumed"),
		search(metrics.Namespace, []string{metrics.DimFunction, metrics.DimService}, metrics.DeadLettered, "Sum", "deadlettered"),
	})

	// Every function: throttles; a breaker where it has one.
	var throttles, breakers []any
	for i := range d.Functions {
		fn := &d.Functions[i]
		if fn.LocalOnly {
			continue
		}
		o.Alarms = append(o.Alarms, throttleAlarm(p, fn))
		throttles = append(throttles, metricLine("AWS/Lambda", "Throttles", map[string]string{"FunctionName": fn.FunctionName}, fn.Name))
		if hasBreaker(manifests[fn.Name]) {
			o.Alarms = append(o.Alarms, breakerAlarm(p, fn))
			dims := shopDims(fn)
			dims[metrics.DimState] = breakerOpen
			breakers = append(breakers, metricLine(metrics.Namespace, metrics.BreakerTransitions, dims, fn.Name))
		}
	}
	dash.add("Lambda throttles per function", "Sum", throttles)
	if len(breakers) > 0 {
		dash.add("Circuit breakers opened", "Sum", breakers)
	}
	slices.SortFunc(o.Alarms, func(a, b Alarm) int { return strings.Compare(a.Name, b.Name) })

	body, err := dash.json()
	if err != nil {
		return nil, err
	}
	o.Dashboard = Dashboard{Name: p.Prefix, Body: body}

	o.SamplingRules = append(o.SamplingRules, SamplingRule{
		Name: named(p, "default"), Priority: defaultSamplingPriority,
		FixedRate: defaultSamplingRate, ReservoirSize: defaultSamplingReservoir,
		ServiceName: "*", ServiceType: "*", Host: "*", HTTPMethod: "*", URLPath: "*",
		ResourceARN: "*", Version: samplingRuleVersion,
	})
	if fn := d.Function(placeOrderFunction); fn != nil && fn.Route != nil {
		o.SamplingRules = append(o.SamplingRules, SamplingRule{
			Name: named(p, "place-order"), Priority: placeOrderPriority,
			FixedRate: placeOrderRate, ReservoirSize: placeOrderReservoir,
			ServiceName: "*", ServiceType: "*", Host: "*", HTTPMethod: fn.Route.Method, URLPath: fn.Route.Path,
			ResourceARN: "*", Version: samplingRuleVersion,
		})
	}
	return o, nil
}

// named is a name of the stack: <prefix>-<name>.
func named(p Params, name string) string { return p.Prefix + "-" + name }

// breakerOpen is the state value of metrics.BreakerTransitions entering
// open (shared/breaker).
const breakerOpen = "open"

// hasBreaker: the functions that call another service or the payment
// provider do it through a circuit breaker (shared/client, shared/breaker).
func hasBreaker(fn *manifest.Function) bool {
	return fn != nil && (len(fn.Permissions.Calls) > 0 || fn.Permissions.PaymentProvider)
}

// shopDims are the dimensions every shop metric of fn carries.
func shopDims(fn *Function) map[string]string {
	return map[string]string{metrics.DimService: fn.Service, metrics.DimFunction: fn.Name}
}

func api5xxAlarm(p Params, d *Deployment) Alarm {
	dims := map[string]string{"ApiId": APIIDPlaceholder, "Stage": d.API.Stage}
	stat := func(name string) *MetricStat {
		return &MetricStat{Namespace: "AWS/ApiGateway", MetricName: name, Dimensions: dims, Period: minute, Stat: "Sum"}
	}
	return Alarm{
		Name: named(p, "api-5xx-rate"),
		Description: fmt.Sprintf("More than %d%% of the requests to the API %s (stage %s) were answered with a 5xx in 3 of the last 5 minutes: "+
			"functions failing, timing out or being throttled. Look at the access log %s (status, routeKey, integrationError) for the routes, "+
			"then at those functions' logs and Errors on the dashboard %s, and at the traces in X-Ray.",
			API5xxRatePercent, d.API.Name, d.API.Stage, d.API.AccessLogGroup, p.Prefix),
		Queries: []MetricQuery{
			{ID: "rate", Expression: "IF(requests > 0, 100 * errors / requests, 0)", Label: "5xx rate (%)", ReturnData: true},
			{ID: "errors", Metric: stat("5xx")},
			{ID: "requests", Metric: stat("Count")},
		},
		ComparisonOperator: "GreaterThanThreshold",
		Threshold:          API5xxRatePercent,
		EvaluationPeriods:  5,
		DatapointsToAlarm:  3,
		TreatMissingData:   treatMissingData,
	}
}

func latencyAlarm(p Params, fn *Function, breaker bool) Alarm {
	threshold := LatencyP99Ms
	why := ""
	if fn.HashesPasswords || breaker {
		threshold = SlowLatencyP99Ms
		why = " (a higher bound than most: it hashes a password or waits on another service by design)"
	}
	return Alarm{
		Name: named(p, fn.Name+"-latency-p99"),
		Description: fmt.Sprintf("The slowest 1%% of %s's requests (%s) took more than %d ms%s in 2 of the last 3 five-minute periods. "+
			"Find slow traces in X-Ray (annotation service = %s) to see which call took the time (DynamoDB, another service, a cold start), "+
			"and read the log group %s.",
			fn.FunctionName, fn.Route.RouteKey, threshold, why, fn.Service, fn.LogGroup),
		Namespace:          metrics.Namespace,
		MetricName:         metrics.Latency,
		Dimensions:         shopDims(fn),
		ExtendedStatistic:  "p99",
		Period:             fiveMinutes,
		ComparisonOperator: "GreaterThanThreshold",
		Threshold:          float64(threshold),
		EvaluationPeriods:  3,
		DatapointsToAlarm:  2,
		TreatMissingData:   treatMissingData,
	}
}

// dlq is a dead-letter queue of the model and the function whose events
// or records end there.
type dlq struct {
	queue Queue
	fn    *Function
	relay bool
}

func deadLetterQueues(d *Deployment) []dlq {
	var out []dlq
	for i := range d.Functions {
		fn := &d.Functions[i]
		if fn.LocalOnly {
			continue
		}
		if c := fn.Consumer; c != nil {
			out = append(out, dlq{queue: c.DeadLetterQueue, fn: fn})
		}
		if r := fn.Relay; r != nil {
			out = append(out, dlq{queue: r.DeadLetterQueue, fn: fn, relay: true})
		}
	}
	slices.SortFunc(out, func(a, b dlq) int { return strings.Compare(a.queue.Name, b.queue.Name) })
	return out
}

func deadLetterAlarm(p Params, q dlq) Alarm {
	what := fmt.Sprintf("%s gave up on an event after %d deliveries (poison, or a bug it keeps hitting)", q.fn.FunctionName, QueueMaxReceiveCount)
	if q.relay {
		what = fmt.Sprintf("%s could not publish an outbox record to the event bus (the event was never delivered)", q.fn.FunctionName)
	}
	return Alarm{
		Name: q.queue.Name + "-messages",
		Description: fmt.Sprintf("The dead-letter queue %s holds a message: %s. Read the message and the errors in the log group %s, "+
			"fix the cause, then redrive the message (SQS start-message-move-task) or replay the events (make replay). "+
			"The queue keeps a message 14 days.",
			q.queue.Name, what, q.fn.LogGroup),
		Namespace:          "AWS/SQS",
		MetricName:         "ApproximateNumberOfMessagesVisible",
		Dimensions:         map[string]string{"QueueName": q.queue.Name},
		Statistic:          "Maximum",
		Period:             fiveMinutes,
		ComparisonOperator: "GreaterThanOrEqualToThreshold",
		Threshold:          1,
		EvaluationPeriods:  1,
		DatapointsToAlarm:  1,
		TreatMissingData:   treatMissingData,
	}
}

func cancellationAlarm(p Params, d *Deployment, c cancelled, fn *Function, reason string) Alarm {
	dims := shopDims(fn)
	dims[metrics.DimReason] = reason
	sm := d.StateMachine(c.stateMachine)
	where := c.stateMachine
	if sm != nil {
		where = sm.StateMachineName + " (execution log " + sm.LogGroup + ")"
	}
	return Alarm{
		Name: named(p, fn.Service+"-cancelled-"+strings.ToLower(strings.ReplaceAll(reason, "_", "-"))),
		Description: fmt.Sprintf("More than %d orders were cancelled with reason %s in five minutes (%s, counted by %s). "+
			"A burst means a dependency of the saga fails (the payment provider, the inventory) or a bad deploy; "+
			"look at the failed executions of the state machine %s and the log group of the step that failed.",
			CancellationsPerFiveMinutes, reason, metrics.OrdersCancelled, fn.FunctionName, where),
		Namespace:          metrics.Namespace,
		MetricName:         metrics.OrdersCancelled,
		Dimensions:         dims,
		Statistic:          "Sum",
		Period:             fiveMinutes,
		ComparisonOperator: "GreaterThanThreshold",
		Threshold:          CancellationsPerFiveMinutes,
		EvaluationPeriods:  1,
		DatapointsToAlarm:  1,
		TreatMissingData:   treatMissingData,
	}
}

func throttleAlarm(p Params, fn *Function) Alarm {
	return Alarm{
		Name: named(p, fn.Name+"-throttles"),
		Description: fmt.Sprintf("Lambda refused invocations of %s for lack of concurrency in the last minute (its reserved concurrency, or the account's limit): "+
			"API callers got 429 or 5xx, queues and streams are retried later. Look at the account's ConcurrentExecutions, "+
			"the function's reserved concurrency and what else took the concurrency (a burst, a slow dependency); its log group is %s.",
			fn.FunctionName, fn.LogGroup),
		Namespace:          "AWS/Lambda",
		MetricName:         "Throttles",
		Dimensions:         map[string]string{"FunctionName": fn.FunctionName},
		Statistic:          "Sum",
		Period:             minute,
		ComparisonOperator: "GreaterThanThreshold",
		Threshold:          0,
		EvaluationPeriods:  1,
		DatapointsToAlarm:  1,
		TreatMissingData:   treatMissingData,
	}
}

func breakerAlarm(p Params, fn *Function) Alarm {
	dims := shopDims(fn)
	dims[metrics.DimState] = breakerOpen
	return Alarm{
		Name: named(p, fn.Name+"-breaker-open"),
		Description: fmt.Sprintf("A circuit breaker of %s opened in the last minute: its calls to a dependency (another service of the stack, or the payment provider) "+
			"kept failing, and it now refuses them for a while instead of waiting on them. Look at the dependency's own alarms and 5xx, "+
			"and at the failed calls in the log group %s and in X-Ray (remote subsegments).",
			fn.FunctionName, fn.LogGroup),
		Namespace:          metrics.Namespace,
		MetricName:         metrics.BreakerTransitions,
		Dimensions:         dims,
		Statistic:          "Sum",
		Period:             minute,
		ComparisonOperator: "GreaterThanOrEqualToThreshold",
		Threshold:          1,
		EvaluationPeriods:  1,
		DatapointsToAlarm:  1,
		TreatMissingData:   treatMissingData,
	}
}

// cancelled is what a state machine's definition says about cancelling
// orders: the step that records a cancellation and the reasons it may get.
type cancelled struct {
	stateMachine string // <service>-<name>
	recorder     string // manifest name of the step
	reasons      []string
}

// cancellations reads, from every state machine's definition, the values
// it assigns to CancelReasonVariable (literal strings; an expression such
// as "{% $reason %}" is no reason of its own) and the step whose payload
// passes the variable on. A definition that assigns reasons must pass them
// to exactly one step.
func cancellations(set *manifest.Set) ([]cancelled, error) {
	var out []cancelled
	for _, sm := range set.StateMachines() {
		var def any
		if err := json.Unmarshal([]byte(sm.Source), &def); err != nil {
			return nil, fmt.Errorf("deployment: state machine %s-%s: %w", sm.Service, sm.Name, err)
		}
		reasons := map[string]bool{}
		recorders := map[string]bool{}
		walkJSON(def, func(obj map[string]any) {
			if assign, ok := obj["Assign"].(map[string]any); ok {
				if r, ok := assign[CancelReasonVariable].(string); ok && !strings.HasPrefix(r, "{%") {
					reasons[r] = true
				}
			}
			args, _ := obj["Arguments"].(map[string]any)
			payload, _ := args["Payload"].(map[string]any)
			if _, ok := payload[CancelReasonVariable]; !ok {
				return
			}
			if ref, ok := args["FunctionName"].(string); ok {
				if m := manifest.StepRef.FindStringSubmatch(ref); m != nil {
					recorders[m[1]] = true
				}
			}
		})
		if len(reasons) == 0 {
			continue
		}
		if len(recorders) != 1 {
			return nil, fmt.Errorf("deployment: state machine %s-%s assigns cancel reasons %v but passes %q to %d steps %v, want exactly one (the step recording cancellations)",
				sm.Service, sm.Name, slices.Sorted(maps.Keys(reasons)), CancelReasonVariable, len(recorders), slices.Sorted(maps.Keys(recorders)))
		}
		out = append(out, cancelled{
			stateMachine: sm.Service + "-" + sm.Name,
			recorder:     slices.Sorted(maps.Keys(recorders))[0],
			reasons:      slices.Sorted(maps.Keys(reasons)),
		})
	}
	return out, nil
}

// walkJSON calls f on every object in v, depth first.
func walkJSON(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, k := range slices.Sorted(maps.Keys(v)) {
			walkJSON(v[k], f)
		}
	case []any:
		for _, e := range v {
			walkJSON(e, f)
		}
	}
}

// dashboard lays out metric widgets two to a row, in the order added.
type dashboard struct {
	region  string
	widgets []map[string]any
}

const (
	widgetWidth  = 12
	widgetHeight = 6
)

// add appends a time-series widget of lines (metricLine, search), whose
// statistic is stat unless a line says otherwise.
func (d *dashboard) add(title, stat string, lines []any) {
	if len(lines) == 0 {
		return
	}
	i := len(d.widgets)
	d.widgets = append(d.widgets, map[string]any{
		"type":   "metric",
		"x":      (i % 2) * widgetWidth,
		"y":      (i / 2) * widgetHeight,
		"width":  widgetWidth,
		"height": widgetHeight,
		"properties": map[string]any{
			"title":   title,
			"region":  d.region,
			"view":    "timeSeries",
			"stacked": false,
			"stat":    stat,
			"period":  fiveMinutes,
			"metrics": lines,
		},
	})
}

func (d *dashboard) json() (string, error) {
	return compactJSON(map[string]any{"widgets": d.widgets})
}

// metricLine is a dashboard line: [namespace, name, dim, value, ...,
// {label, and more options as key, value pairs}], the dimensions ordered
// by name.
func metricLine(namespace, name string, dims map[string]string, label string, options ...string) []any {
	line := []any{namespace, name}
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		line = append(line, k, dims[k])
	}
	opts := map[string]any{"label": label}
	for i := 0; i+1 < len(options); i += 2 {
		opts[options[i]] = options[i+1]
	}
	return append(line, opts)
}

// search is a dashboard line drawing every metric name of namespace with
// exactly the dimensions dims (a line per combination: per function, per
// currency), so a new function or currency appears without a change here.
func search(namespace string, dims []string, name, stat, id string) []any {
	schema := strings.Join(append([]string{namespace}, dims...), ",")
	return []any{map[string]any{
		"id":         id,
		"expression": fmt.Sprintf("SEARCH('{%s} MetricName=\"%s\"', '%s', %d)", schema, name, stat, fiveMinutes),
	}}
}

// LogGroups are every log group of the model: the functions', the API's
// access log and the state machines' execution logs. Each target creates
// them itself with Settings.LogRetentionDays (never leaving one to the
// service that writes to it, which would keep its logs forever).
func (d *Deployment) LogGroups() []string {
	var out []string
	for _, fn := range d.Functions {
		out = append(out, fn.LogGroup)
	}
	out = append(out, d.API.AccessLogGroup)
	for _, sm := range d.StateMachines {
		out = append(out, sm.LogGroup)
	}
	slices.Sort(out)
	return out
}
