package main

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// The Knative manifests are rendered with concrete names, not placeholders:
// an environment value such as SHOP_TABLE=shop-users cannot be substituted
// by Kustomize without a replacement per variable, and the names are the
// stack's, which the prefix decides once. They deploy the stack "shop" into
// the namespace of the same name; what differs per cluster (images, the AWS
// account and region) is set with Kustomize (see KnativeDir/README notes).
const (
	knativePrefix = "shop"
	// KnativeDir holds the generated manifests (and the hand-written
	// Dockerfile, which is not generated).
	KnativeDir = "infra/knative"

	knativeNamespace = knativePrefix
	// awsConfigMap holds the AWS account and region: the region reaches
	// every container's environment, the account every role ARN.
	awsConfigMap = knativePrefix + "-aws"
	// placeholderAccount stands for the account until it is set with
	// `kustomize edit set configmap` (it is also the emulator's).
	placeholderAccount = "000000000000"
	defaultRegion      = "us-east-1"
	// placeholderAPIURL stands for the Gateway's external URL until it is
	// set; the payment provider's URL defaults to the simulator under it.
	placeholderAPIURL = "https://shop.example.com"

	// bindingsConfigMap holds the model's bindings (deployment.Binding*)
	// by name: the URLs a function reaches the stack's own API and the
	// payment provider at, which only the cluster's operator knows (the
	// Gateway's external URL; the provider's). Set them with `kustomize
	// edit set configmap`.
	bindingsConfigMap = knativePrefix + "-bindings"

	// gatewayName is the Gateway the HTTPRoutes attach to. It is the
	// cluster's (its class says which implementation serves it), so it is
	// not generated; create one named so in the namespace.
	gatewayName = knativePrefix

	containerPort = 8080

	// ioBoundConcurrency is the most requests one pod of an ordinary HTTP
	// function serves at once. Lambda gives each request its own instance;
	// on Knative a Go process serves many, and these functions mostly wait
	// on DynamoDB. The bound keeps memory safe: every request body is
	// capped at 1 MiB (httpapi.MaxBodyBytes), so 50 in flight hold at most
	// ~50 MiB, within the smallest memory a manifest may ask (128 MB).
	// Past it queue-proxy queues and the autoscaler adds pods.
	ioBoundConcurrency = 50
	// hashingConcurrency is one request at a time, as on Lambda, for
	// functions that spend a deliberately slow argon2id hash per request
	// (manifest hashesPasswords): the hash is CPU-bound, so a second one
	// in the same pod only halves the speed of both, and scaling out on
	// concurrency is what keeps login latency flat.
	hashingConcurrency = 1
	// lambdaMBPerVCPU is the memory at which Lambda gives a function one
	// full vCPU; its CPU share is proportional below that. The containers
	// request the same share, so a function has on Knative the CPU it was
	// sized for on Lambda.
	lambdaMBPerVCPU = 1769

	// Labels every generated object carries.
	labelPartOf    = "app.kubernetes.io/part-of"
	labelName      = "app.kubernetes.io/name"
	labelComponent = "app.kubernetes.io/component"
	// visibilityLabel keeps a Knative Service off the external ingress.
	visibilityLabel = "networking.knative.dev/visibility"
	// The autoscaler's bounds on a revision's pods.
	minScaleAnnotation = "autoscaling.knative.dev/min-scale"
	maxScaleAnnotation = "autoscaling.knative.dev/max-scale"

	// eventTypeNamespace starts every event type (the catalog's rule); a
	// Trigger's name leaves it out.
	eventTypeNamespace = "shop."
	// maxTriggerName: Knative Eventing puts a Trigger's name in label
	// values, which stop at 63 characters.
	maxTriggerName = 63
	// triggerBackoffDelay is the first retry's delay (ISO 8601), doubled
	// for each further one.
	triggerBackoffDelay = "PT1S"
	// roleAnnotation binds a ServiceAccount to an IAM role (IRSA).
	roleAnnotation = "eks.amazonaws.com/role-arn"
)

// knativeFiles renders set as the Knative manifests, by path relative to
// the repository root.
func knativeFiles(set *manifest.Set) (map[string][]byte, error) {
	d, err := deployment.Build(set, deployment.Params{Prefix: knativePrefix, Region: defaultRegion, Account: placeholderAccount})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var resources []string
	add := func(name string, header string, docs ...any) error {
		b, err := yamlDocs(header, docs...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files[KnativeDir+"/"+name] = b
		resources = append(resources, name)
		return nil
	}

	if err := add("namespace.yaml", "The namespace every object of the stack lives in.", object{
		APIVersion: "v1", Kind: "Namespace", Metadata: meta{Name: knativeNamespace, Labels: partOf()},
	}); err != nil {
		return nil, err
	}
	manifests := map[string]*manifest.Function{}
	for _, fn := range set.Functions() {
		manifests[fn.Name] = fn
	}
	var publishers []string
	for i := range d.Functions {
		fn := &d.Functions[i]
		header := fmt.Sprintf("%s (%s): %s\nIts ServiceAccount is bound to the IAM role %s, whose policy is the model's role policy\n"+
			"(infra/deployment.json): with IRSA through the annotation below, with EKS Pod Identity through an association.",
			fn.FunctionName, fn.Kind, fn.Description, fn.Role.Name)
		docs := []any{serviceAccount(fn), knativeService(fn)}
		switch fn.Kind {
		case manifest.KindHTTP, manifest.KindStep:
		case manifest.KindEvent:
			header += "\n" + consumerHeader
			ts, err := triggers(set, manifests[fn.Name], fn)
			if err != nil {
				return nil, err
			}
			docs = append(docs, ts...)
		case manifest.KindStream:
			header += "\n" + relayHeader
		case manifest.KindAuthorizer:
			// API Gateway's authorizer has no place on Knative: every
			// HTTP function verifies its caller's token itself.
			continue
		default:
			return nil, fmt.Errorf("%s: no Knative rendering for kind %q", fn.Name, fn.Kind)
		}
		if manifests[fn.Name].Permissions.PublishEvents {
			publishers = append(publishers, fn.FunctionName)
		}
		if err := add(fn.Name+".yaml", header, docs...); err != nil {
			return nil, err
		}
	}

	var routes []any
	for _, fn := range d.Routes() {
		r, err := httpRoute(fn)
		if err != nil {
			return nil, err
		}
		routes = append(routes, r)
	}
	if err := add("httproutes.yaml", httpRoutesHeader, routes...); err != nil {
		return nil, err
	}
	// The Broker is the stack's bus on Knative, where the model has one.
	if d.EventBus != nil {
		docs := []any{broker()}
		if len(publishers) > 0 {
			docs = append(docs, sinkBinding(publishers))
		}
		if err := add("eventing.yaml", eventingHeader, docs...); err != nil {
			return nil, err
		}
	}

	k, err := yamlDocs(kustomizationHeader, kustomization(resources, bindingLiterals(d)))
	if err != nil {
		return nil, err
	}
	files[KnativeDir+"/kustomization.yaml"] = k
	return files, nil
}

const httpRoutesHeader = `One Gateway API HTTPRoute per HTTP function: its method and path (Exact, or a
RegularExpression where the path has {params}: one {param} is one non-empty
segment, as in the function's own router) go to its Knative Service. The
backend is the Kubernetes Service Knative creates for it (same name), which
leads to Knative's ingress; the hostname rewrite names the Knative Service
there. The routes attach to the Gateway "shop" in this namespace, which the
cluster provides (its class picks the implementation; RegularExpression path
matches need one that supports them, such as Envoy Gateway, Istio or Kong).
tests/knative serves exactly these routes in front of the functions.`

const eventingHeader = `The stack's bus on Knative: the Broker, and a SinkBinding that gives every
publisher (the outbox relays and the ingest endpoint) K_SINK, the Broker's
address, where shared/eventbus posts their CloudEvents (on Knative their
environment has no SHOP_EVENT_BUS, so they do not put them on EventBridge).
Each consumer's Triggers, in its own file, take its events from the Broker.`

// consumerHeader explains an event consumer's file.
const consumerHeader = `An event consumer: a Trigger per event type it receives, filtered on the type and on the
source of its one producer (exact attribute filters, which every Knative Eventing version
takes), delivers the Broker's events to its Service. On AWS its queue's redrive gives up
after the queue's receive count; here the Trigger's delivery retries as often. The Broker
drops an event that still fails unless the Trigger has a deadLetterSink: add one to keep
poison events (there is no SQS queue behind a Trigger).`

// relayHeader explains an outbox relay's file.
const relayHeader = `An outbox relay: it polls its table's DynamoDB stream instead of answering requests
(shared/runtime/stream), so exactly one pod runs at all times (min-scale and max-scale 1:
a second would read every shard again and publish every event twice), and posts each outbox
event to K_SINK. It keeps its place in memory: after a restart it reads each shard from its
oldest record again, and the consumers, which deduplicate on the event id, see no second
effect. It parks a record it can never publish in its SQS dead-letter queue on AWS
(deadLetterQueueUrl-<function> in the shop-bindings ConfigMap). Where Terraform also deploys
this relay on Lambda, both read the stream: each event reaches the EventBridge bus and the
Broker, and each consumer's claim on the event id (in the service's table, shared by its
Lambda and Knative copies) lets one of them act on it.`

const kustomizationHeader = `kubectl apply -k infra/knative deploys the stack. Per cluster, set:
  kustomize edit set image shop-<function>=<registry>/shop-<function>:<tag>   (each function)
  kustomize edit set configmap shop-aws --from-literal=AWS_ACCOUNT_ID=<account> --from-literal=AWS_REGION=<region>
  kustomize edit set configmap shop-bindings --from-literal=apiUrl=<the Gateway's URL> (and paymentProviderUrl)
in the checkout you deploy from (never commit them); the account reaches every role ARN, and
the account and region every relay's dead-letter queue URL (deadLetterQueueUrl-<function>).`

// object is the part of a Kubernetes object every generated one has; spec
// is the kind's own.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   meta   `yaml:"metadata"`
	Spec       any    `yaml:"spec,omitempty"`
}

type meta struct {
	Name        string            `yaml:"name,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

func partOf() map[string]string { return map[string]string{labelPartOf: knativePrefix} }

func functionLabels(fn *deployment.Function) map[string]string {
	l := partOf()
	l[labelName] = fn.FunctionName
	l[labelComponent] = fn.Kind
	return l
}

func serviceAccount(fn *deployment.Function) object {
	return object{
		APIVersion: "v1", Kind: "ServiceAccount",
		Metadata: meta{
			Name:   fn.FunctionName,
			Labels: functionLabels(fn),
			// The account is the ConfigMap's (kustomization replacements).
			Annotations: map[string]string{roleAnnotation: fmt.Sprintf("arn:aws:iam::%s:role/%s", placeholderAccount, fn.Role.Name)},
		},
	}
}

type envVar struct {
	Name      string    `yaml:"name"`
	Value     string    `yaml:"value,omitempty"`
	ValueFrom *envValue `yaml:"valueFrom,omitempty"`
}

type envValue struct {
	ConfigMapKeyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	} `yaml:"configMapKeyRef"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds,omitempty"`
	FailureThreshold int `yaml:"failureThreshold,omitempty"`
}

func probeAt(path string, period, failures int) *probe {
	p := &probe{PeriodSeconds: period, FailureThreshold: failures}
	p.HTTPGet.Path = path
	return p
}

func knativeService(fn *deployment.Function) object {
	vars := fn.KnativeEnvironment()
	// A publisher posts to K_SINK (the Broker, through the SinkBinding)
	// only when it is not told of an EventBridge bus (shared/eventbus).
	delete(vars, manifest.EnvEventBus)
	env := make([]envVar, 0, len(vars)+1)
	for _, k := range sortedKeys(vars) {
		env = append(env, envVar{Name: k, Value: vars[k]})
	}
	region := envVar{Name: "AWS_REGION", ValueFrom: &envValue{}}
	region.ValueFrom.ConfigMapKeyRef.Name, region.ValueFrom.ConfigMapKeyRef.Key = awsConfigMap, "AWS_REGION"
	env = append(env, region)
	for _, k := range sortedKeys(fn.Bindings) {
		key, ok := bindingKey(fn, fn.Bindings[k])
		if !ok {
			continue
		}
		b := envVar{Name: k, ValueFrom: &envValue{}}
		b.ValueFrom.ConfigMapKeyRef.Name, b.ValueFrom.ConfigMapKeyRef.Key = bindingsConfigMap, key
		env = append(env, b)
	}

	concurrency := ioBoundConcurrency
	if fn.HashesPasswords {
		concurrency = hashingConcurrency
	}
	memory := fmt.Sprintf("%dMi", fn.MemoryMB)
	cpu := fmt.Sprintf("%dm", max(1, fn.MemoryMB*1000/lambdaMBPerVCPU))
	labels := functionLabels(fn)
	if fn.Route == nil {
		// A saga step, an event consumer or a relay has no route: it is
		// reached inside the cluster (by a holder of a service token, by
		// the Broker) or not at all, never through the external ingress.
		labels[visibilityLabel] = "cluster-local"
	}
	type container struct {
		Name  string `yaml:"name"`
		Image string `yaml:"image"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env       []envVar `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		ReadinessProbe  *probe         `yaml:"readinessProbe"`
		LivenessProbe   *probe         `yaml:"livenessProbe"`
		SecurityContext map[string]any `yaml:"securityContext"`
	}
	c := container{
		Name:  "function",
		Image: fn.FunctionName, // kustomize edit set image <this>=<registry>/<name>:<tag>
		Env:   env,
		// /readyz fails as soon as shutdown begins; /healthz only when the
		// process no longer serves at all (shared/runtime.Serve).
		ReadinessProbe:  probeAt("/readyz", 0, 0),
		LivenessProbe:   probeAt("/healthz", 10, 3),
		SecurityContext: restricted(),
	}
	c.Ports = append(c.Ports, struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}{"http1", containerPort})
	// No CPU limit: a CFS quota would throttle a request mid-flight; the
	// request reserves the share the function has on Lambda. Memory is
	// both requested and capped at the manifest's.
	c.Resources.Requests = map[string]string{"cpu": cpu, "memory": memory}
	c.Resources.Limits = map[string]string{"memory": memory}

	type podSpec struct {
		ServiceAccountName   string      `yaml:"serviceAccountName"`
		ContainerConcurrency int         `yaml:"containerConcurrency"`
		TimeoutSeconds       int         `yaml:"timeoutSeconds"`
		Containers           []container `yaml:"containers"`
	}
	type template struct {
		Metadata meta    `yaml:"metadata"`
		Spec     podSpec `yaml:"spec"`
	}
	var annotations map[string]string
	if fn.Kind == manifest.KindStream {
		// A relay polls; nothing requests it. One pod, always (relayHeader).
		annotations = map[string]string{minScaleAnnotation: "1", maxScaleAnnotation: "1"}
	}
	return object{
		APIVersion: "serving.knative.dev/v1", Kind: "Service",
		Metadata: meta{Name: fn.FunctionName, Labels: labels},
		Spec: struct {
			Template template `yaml:"template"`
		}{template{
			Metadata: meta{Labels: functionLabels(fn), Annotations: annotations},
			Spec: podSpec{
				ServiceAccountName:   fn.FunctionName,
				ContainerConcurrency: concurrency,
				TimeoutSeconds:       fn.TimeoutSecs,
				Containers:           []container{c},
			},
		}},
	}
}

// restricted is the Pod Security Standard "restricted" for the container:
// the image is one static binary run as nonroot that writes no file.
func restricted() map[string]any {
	return map[string]any{
		"runAsNonRoot":             true,
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem":   true,
		"capabilities":             map[string]any{"drop": []string{"ALL"}},
		"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
	}
}

// paramRE is a {param} of a route path.
var paramRE = regexp.MustCompile(`\{[^/{}]+\}`)

// routePathMatch is how an HTTPRoute matches a route's path: Exact for a
// literal path, otherwise a RegularExpression (RE2, which Go's regexp and
// Envoy share) where each {param} is one non-empty segment, as
// http.ServeMux matches it in the function.
func routePathMatch(path string) (typ, value string) {
	params := paramRE.FindAllStringIndex(path, -1)
	if len(params) == 0 {
		return "Exact", path
	}
	var re strings.Builder
	re.WriteString("^")
	done := 0
	for _, p := range params {
		re.WriteString(regexp.QuoteMeta(path[done:p[0]]))
		re.WriteString("[^/]+")
		done = p[1]
	}
	re.WriteString(regexp.QuoteMeta(path[done:]))
	re.WriteString("$")
	return "RegularExpression", re.String()
}

func httpRoute(fn *deployment.Function) (object, error) {
	typ, value := routePathMatch(fn.Route.Path)
	if _, err := regexp.Compile(value); err != nil {
		return object{}, fmt.Errorf("%s: route %s: %w", fn.Name, fn.Route.RouteKey, err)
	}
	type kv map[string]any
	type rule struct {
		Matches     []kv `yaml:"matches"`
		Filters     []kv `yaml:"filters"`
		BackendRefs []kv `yaml:"backendRefs"`
	}
	return object{
		APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute",
		Metadata: meta{Name: fn.FunctionName, Labels: functionLabels(fn)},
		Spec: struct {
			ParentRefs []kv   `yaml:"parentRefs"`
			Rules      []rule `yaml:"rules"`
		}{
			ParentRefs: []kv{{"name": gatewayName}},
			Rules: []rule{{
				Matches: []kv{{"method": fn.Route.Method, "path": kv{"type": typ, "value": value}}},
				Filters: []kv{{
					"type":       "URLRewrite",
					"urlRewrite": kv{"hostname": fmt.Sprintf("%s.%s.svc.cluster.local", fn.FunctionName, knativeNamespace)},
				}},
				BackendRefs: []kv{{"name": fn.FunctionName, "port": 80}},
			}},
		},
	}, nil
}

func broker() object {
	return object{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Metadata: meta{Name: knativePrefix, Labels: partOf()}}
}

// sinkBinding gives the publishers, named by their Services' name label,
// K_SINK: the Broker's address.
func sinkBinding(publishers []string) object {
	type kv map[string]any
	slices.Sort(publishers)
	return object{
		APIVersion: "sources.knative.dev/v1", Kind: "SinkBinding",
		Metadata: meta{Name: knativePrefix + "-publishers", Labels: partOf()},
		Spec: kv{
			"subject": kv{
				"apiVersion": "serving.knative.dev/v1",
				"kind":       "Service",
				"selector": kv{"matchExpressions": []kv{{
					"key": labelName, "operator": "In", "values": publishers,
				}}},
			},
			"sink": kv{"ref": kv{"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": knativePrefix}},
		},
	}
}

// triggers are the consumer fn's Triggers: one per event type it receives,
// filtered on the type and on its producer's source, as its rule on AWS
// (deployment.EventPattern) matches them. A Trigger's exact attribute
// filters see only the CloudEvent's attributes; of the manifest's further
// pattern fields, those that name one value of an attribute (detail.<attr>:
// [value], where detail is the CloudEvent) become filters too, and any
// other refuses to render: a Trigger without it would deliver events the
// consumer never gets on AWS.
func triggers(set *manifest.Set, m *manifest.Function, fn *deployment.Function) ([]any, error) {
	extra, err := attributeFilters(m.Events.Pattern)
	if err != nil {
		return nil, fmt.Errorf("%s/function.yaml: events.pattern: %w", m.Dir, err)
	}
	type kv map[string]any
	var out []any
	for _, t := range slices.Sorted(slices.Values(m.Events.Types)) {
		prod, ok := set.Producer(t)
		if !ok {
			return nil, fmt.Errorf("%s: nothing publishes %s", fn.Name, t)
		}
		filter := map[string]string{"type": t, "source": prod.Source}
		maps.Copy(filter, extra)
		name := fn.FunctionName + "-" + strings.ReplaceAll(strings.TrimPrefix(t, eventTypeNamespace), ".", "-")
		if len(name) > maxTriggerName {
			return nil, fmt.Errorf("%s: Trigger name %q has %d characters; Knative labels objects with it, and a label value takes %d", fn.Name, name, len(name), maxTriggerName)
		}
		out = append(out, object{
			APIVersion: "eventing.knative.dev/v1", Kind: "Trigger",
			Metadata: meta{Name: name, Labels: functionLabels(fn)},
			Spec: kv{
				"broker": knativePrefix,
				"filter": kv{"attributes": filter},
				"subscriber": kv{"ref": kv{
					"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": fn.FunctionName,
				}},
				// As many deliveries as the queue's receive count on AWS.
				"delivery": kv{
					"retry":         fn.Consumer.Queue.MaxReceiveCount - 1,
					"backoffPolicy": "exponential",
					"backoffDelay":  triggerBackoffDelay,
				},
			},
		})
	}
	return out, nil
}

// attributeFilters turns the pattern fields an exact attribute filter can
// express into filters: detail.<attribute>: ["one value"].
func attributeFilters(pattern map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for field, v := range pattern {
		detail, ok := v.(map[string]any)
		if field != "detail" || !ok {
			return nil, fmt.Errorf("%s: a Knative Trigger filters on the CloudEvent's attributes only (detail.<attribute>)", field)
		}
		for attr, want := range detail {
			var value string
			values, ok := want.([]any)
			if ok = ok && len(values) == 1; ok {
				value, ok = values[0].(string)
			}
			if !ok || attr == "data" || attr == "type" || attr == "source" || !ceAttributeRE.MatchString(attr) {
				return nil, fmt.Errorf("detail.%s: %v: a Knative Trigger's exact attribute filter takes one string value of a CloudEvent attribute", attr, want)
			}
			out[attr] = value
		}
	}
	return out, nil
}

// ceAttributeRE is a CloudEvents attribute name (lower-case letters and
// digits).
var ceAttributeRE = regexp.MustCompile(`^[a-z0-9]+$`)

// bindingKey is where, in the bindings ConfigMap, the value of fn's binding
// is; false when the binding has no meaning on Knative (a consumer's queue:
// the Broker delivers over HTTP, with no queue).
func bindingKey(fn *deployment.Function, binding string) (string, bool) {
	switch binding {
	case deployment.BindingQueueURL:
		return "", false
	case deployment.BindingDeadLetterQueueURL:
		// One queue per relay, so one key per relay.
		return binding + "-" + fn.Name, true
	}
	return binding, true
}

// bindingLiterals are the bindings ConfigMap's placeholder values: the
// stack's URLs, which the operator sets, and each relay's dead-letter
// queue, whose URL on AWS follows from the account and region
// (kustomization replacements set both from the shop-aws ConfigMap).
func bindingLiterals(d *deployment.Deployment) []string {
	out := []string{
		deployment.BindingAPIURL + "=" + placeholderAPIURL,
		deployment.BindingPaymentProviderURL + "=" + placeholderAPIURL + deployment.PaymentSimulatorPath,
	}
	for i := range d.Functions {
		fn := &d.Functions[i]
		if fn.Relay == nil {
			continue
		}
		key, _ := bindingKey(fn, deployment.BindingDeadLetterQueueURL)
		out = append(out, key+"="+sqsURL(fn.Relay.DeadLetterQueue.Name))
	}
	return out
}

// sqsURL is the URL of a queue of the placeholder account in the default
// region: https://sqs.<region>.amazonaws.com/<account>/<name>.
func sqsURL(name string) string {
	return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", defaultRegion, placeholderAccount, name)
}

func kustomization(resources, bindings []string) any {
	type kv map[string]any
	slices.Sort(resources)
	replacements := []kv{{
		"source": kv{"kind": "ConfigMap", "name": awsConfigMap, "fieldPath": "data.AWS_ACCOUNT_ID"},
		"targets": []kv{{
			"select":     kv{"kind": "ServiceAccount"},
			"fieldPaths": []string{"metadata.annotations.[" + roleAnnotation + "]"},
			// arn:aws:iam::<account>:role/<name>: the fifth field.
			"options": kv{"delimiter": ":", "index": 4},
		}},
	}}
	// The dead-letter queues' URLs: https://sqs.<region>.amazonaws.com/<account>/<name>.
	var queues []string
	for _, b := range bindings {
		if key, _, _ := strings.Cut(b, "="); strings.HasPrefix(key, deployment.BindingDeadLetterQueueURL+"-") {
			queues = append(queues, "data."+key)
		}
	}
	if len(queues) > 0 {
		replacements = append(replacements, kv{
			"source": kv{"kind": "ConfigMap", "name": awsConfigMap, "fieldPath": "data.AWS_ACCOUNT_ID"},
			"targets": []kv{{
				"select":     kv{"kind": "ConfigMap", "name": bindingsConfigMap},
				"fieldPaths": queues,
				"options":    kv{"delimiter": "/", "index": 3},
			}},
		}, kv{
			"source": kv{"kind": "ConfigMap", "name": awsConfigMap, "fieldPath": "data.AWS_REGION"},
			"targets": []kv{{
				"select":     kv{"kind": "ConfigMap", "name": bindingsConfigMap},
				"fieldPaths": queues,
				"options":    kv{"delimiter": ".", "index": 1},
			}},
		})
	}
	return struct {
		APIVersion         string   `yaml:"apiVersion"`
		Kind               string   `yaml:"kind"`
		Namespace          string   `yaml:"namespace"`
		Resources          []string `yaml:"resources"`
		ConfigMapGenerator []kv     `yaml:"configMapGenerator"`
		Replacements       []kv     `yaml:"replacements"`
	}{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Namespace:  knativeNamespace,
		Resources:  resources,
		ConfigMapGenerator: []kv{{
			"name":     awsConfigMap,
			"literals": []string{"AWS_ACCOUNT_ID=" + placeholderAccount, "AWS_REGION=" + defaultRegion},
			// The Services name it; a hashed name would not survive an
			// overlay that merges new values into it.
			"options": kv{"disableNameSuffixHash": true},
		}, {
			"name":     bindingsConfigMap,
			"literals": bindings,
			"options":  kv{"disableNameSuffixHash": true},
		}},
		Replacements: replacements,
	}
}

// yamlDocs encodes docs as one YAML stream headed by the generated-file
// notice and header, each line a comment.
func yamlDocs(header string, docs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(deployment.Notice+"\n"+header, "\n") {
		buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
