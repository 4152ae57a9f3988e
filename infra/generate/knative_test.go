package main

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shop-serverless/shop/shared/deployment/deploymenttest"
	"github.com/shop-serverless/shop/shared/manifest"
)

// A route's path match in the HTTPRoutes selects exactly the paths the
// function's own ServeMux pattern does: the ingress never sends a request
// the function would refuse as 404, nor keeps one from it. A gateway matches
// the path as sent, escapes included (a%2Fb is one segment, as for the
// ServeMux). Unclean paths (//, /./) are left out: the ServeMux redirects
// them to the clean path, which the gateway then routes.
func TestRoutePathMatchAgreesWithServeMux(t *testing.T) {
	paths := []string{
		"/v1/products", "/v1/products/", "/v1/products/p1", "/v1/products/p1/", "/v1/products/p1/stock",
		"/v1/products/p1/stock/x", "/v1/productsx", "/v1/users/u.1", "/v1/users/a%2Fb",
	}
	for _, route := range []string{"/v1/products", "/v1/products/{id}", "/v1/products/{id}/stock", "/v1/users/{id}", "/v1/a.b/{x}/{y}"} {
		typ, value := routePathMatch(route)
		mux := http.NewServeMux()
		mux.HandleFunc("GET "+route, func(http.ResponseWriter, *http.Request) {})
		for _, p := range paths {
			r := httptest.NewRequest("GET", p, nil)
			_, pattern := mux.Handler(r)
			wantMatch := pattern != ""
			var got bool
			switch typ {
			case "Exact":
				got = r.URL.EscapedPath() == value
			case "RegularExpression":
				got = regexp.MustCompile(value).MatchString(r.URL.EscapedPath())
			default:
				t.Fatalf("%s: path match type %q", route, typ)
			}
			if got != wantMatch {
				t.Errorf("route %s (%s %s), path %s: ingress matches %v, ServeMux %v", route, typ, value, p, got, wantMatch)
			}
		}
	}
}

// The manifests build with Kustomize (kubectl's), the AWS account set in
// the ConfigMap reaches every role ARN, and `kustomize edit set image`
// (which writes an images entry) reaches every function's container.
func TestKustomizationBuilds(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("SKIPPED: kubectl is not installed, so nothing builds the kustomization here (the generated files are still checked against the model)")
	}
	root := filepath.Join("..", "..")
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	out := kustomizeBuild(t, files, map[string]string{"AWS_ACCOUNT_ID": "123456789012"})
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	kinds := map[string]int{}
	for {
		var obj struct {
			Kind     string
			Metadata struct {
				Name, Namespace string
				Annotations     map[string]string
			}
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct{ Image string }
					}
				}
			}
		}
		if err := dec.Decode(&obj); err != nil {
			break
		}
		kinds[obj.Kind]++
		if obj.Kind != "Namespace" && obj.Metadata.Namespace != knativeNamespace {
			t.Errorf("%s %s in namespace %q, want %s", obj.Kind, obj.Metadata.Name, obj.Metadata.Namespace, knativeNamespace)
		}
		switch obj.Kind {
		case "ServiceAccount":
			if got, want := obj.Metadata.Annotations[roleAnnotation], "arn:aws:iam::123456789012:role/"+obj.Metadata.Name; got != want {
				t.Errorf("ServiceAccount %s: role %q, want %q", obj.Metadata.Name, got, want)
			}
		case "Service":
			if c := obj.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "registry.example/shop/"+obj.Metadata.Name+":v1" {
				t.Errorf("Service %s: containers %+v, want the image set for it", obj.Metadata.Name, c)
			}
		}
	}
	// What the model asks for: a Broker where it has a bus, a SinkBinding
	// where something publishes, a Trigger per consumer and type.
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ConfigMap": 2, "Namespace": 1, "HTTPRoute": 0}
	for _, fn := range set.Functions() {
		if fn.Permissions.PublishEvents {
			want["Broker"], want["SinkBinding"] = 1, 1
		}
		if fn.Events != nil {
			want["Trigger"] += len(fn.Events.Types)
		}
		if fn.HTTP != nil {
			want["HTTPRoute"]++
		}
	}
	n := len(functionNames(t, files))
	want["Service"], want["ServiceAccount"] = n, n
	maps.DeleteFunc(want, func(_ string, v int) bool { return v == 0 })
	if !maps.Equal(kinds, want) {
		t.Errorf("built %v, want %v: a Service and a ServiceAccount for each of %d functions, the namespace, the AWS and bindings ConfigMaps, an HTTPRoute per route, and the model's eventing", kinds, want, n)
	}
}

// kustomizeBuild builds the Knative files with kubectl kustomize, with
// literals set in the shop-aws ConfigMap and an image set for every
// function, as an operator does; nil, said in the log, without kubectl.
func kustomizeBuild(t *testing.T, files map[string][]byte, literals map[string]string) []byte {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl is not installed: the kustomization was not built")
		return nil
	}
	dir := t.TempDir()
	for rel, b := range files {
		if !strings.HasPrefix(rel, KnativeDir+"/") {
			continue
		}
		if filepath.Base(rel) == "kustomization.yaml" {
			text := string(b)
			for k, v := range literals {
				text = regexp.MustCompile(`(?m)^(\s+- )`+k+`=.*$`).ReplaceAllString(text, "${1}"+k+"="+v)
			}
			b = append([]byte(text), "images:\n"...)
			for _, fn := range functionNames(t, files) {
				b = append(b, "  - name: "+fn+"\n    newName: registry.example/shop/"+fn+"\n    newTag: v1\n"...)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(rel)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("kubectl kustomize: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("kubectl kustomize: %v", err)
	}
	return out
}

// functionNames are the Knative Services the generated files declare.
func functionNames(t *testing.T, files map[string][]byte) []string {
	t.Helper()
	var names []string
	for rel, b := range files {
		if !strings.HasPrefix(rel, KnativeDir+"/") {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var obj struct {
				Kind     string
				Metadata struct{ Name string }
			}
			if err := dec.Decode(&obj); err != nil {
				break
			}
			if obj.Kind == "Service" {
				names = append(names, obj.Metadata.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// A manifest left behind by a removed function is stale, and regenerating
// removes it.
func TestOrphanKnativeFileIsStale(t *testing.T) {
	root := copyManifests(t)
	if _, err := Generate(root, true); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(root, filepath.FromSlash(KnativeDir), "users-gone.yaml")
	if err := os.WriteFile(orphan, []byte("kind: Service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale, _ := Generate(root, false); !slices.Equal(stale, []string{KnativeDir + "/users-gone.yaml"}) {
		t.Fatalf("stale %v, want the orphan", stale)
	}
	if _, err := Generate(root, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan still there: %v", err)
	}
}

// eventsSet is deploymenttest's stack of every kind of event wiring, whose
// consumer takes the warehouse's and the orders' created events, with
// pattern added.
func eventsSet(t *testing.T, pattern string) *manifest.Set {
	t.Helper()
	return deploymenttest.EventsSet(t, pattern, "shop.warehouse.stock.received.v1", "shop.order.created.v1")
}

// k8sObject is what the events tests read of a generated object.
type k8sObject struct {
	Kind     string
	Metadata struct {
		Name   string
		Labels map[string]string
	}
	Spec struct {
		Broker string
		Filter struct {
			Attributes map[string]string
		}
		Subscriber struct {
			Ref struct{ Kind, Name string }
		}
		Delivery struct {
			Retry         int
			BackoffPolicy string `yaml:"backoffPolicy"`
		}
		Subject struct {
			Kind     string
			Selector struct {
				MatchExpressions []struct {
					Key, Operator string
					Values        []string
				} `yaml:"matchExpressions"`
			}
		}
		Sink struct {
			Ref struct{ Kind, Name string }
		}
		Template struct {
			Metadata struct {
				Annotations map[string]string
			}
			Spec struct {
				Containers []struct {
					Env []envVar
				}
			}
		}
	}
	Data map[string]string
}

func decodeObjects(t *testing.T, b []byte) []k8sObject {
	t.Helper()
	var out []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var obj k8sObject
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
}

// On Knative the Broker is the bus: each consumer gets a Trigger per type,
// filtered as its rule is on AWS (type, the producer's source, and the
// pattern's attribute), delivering to its Service with as many tries as its
// queue's receive count; the SinkBinding gives exactly the publishers (the
// relay, the ingest endpoint) K_SINK, and no Service is told of an
// EventBridge bus or a consumer queue, which do not exist there; the relay
// runs as one pod, always, and reaches its dead-letter queue on AWS.
func TestKnativeEvents(t *testing.T) {
	files, err := knativeFiles(eventsSet(t, "{detail: {subject: [op-1]}}"))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]k8sObject{} // kind -> name -> object
	for rel, b := range files {
		if filepath.Base(rel) == "kustomization.yaml" {
			continue
		}
		for _, o := range decodeObjects(t, b) {
			if objs[o.Kind] == nil {
				objs[o.Kind] = map[string]k8sObject{}
			}
			objs[o.Kind][o.Metadata.Name] = o
		}
	}

	if _, ok := objs["Broker"][knativePrefix]; !ok || len(objs["Broker"]) != 1 {
		t.Errorf("brokers %v, want %s", slices.Collect(maps.Keys(objs["Broker"])), knativePrefix)
	}
	wantTriggers := map[string]map[string]string{
		"shop-notes-notify-order-created-v1":            {"type": "shop.order.created.v1", "source": "shop.orders", "subject": "op-1"},
		"shop-notes-notify-warehouse-stock-received-v1": {"type": "shop.warehouse.stock.received.v1", "source": "com.example.warehouse", "subject": "op-1"},
	}
	if got := slices.Sorted(maps.Keys(objs["Trigger"])); !slices.Equal(got, slices.Sorted(maps.Keys(wantTriggers))) {
		t.Errorf("triggers %v, want %v", got, slices.Sorted(maps.Keys(wantTriggers)))
	}
	for name, want := range wantTriggers {
		tr := objs["Trigger"][name]
		if !maps.Equal(tr.Spec.Filter.Attributes, want) {
			t.Errorf("trigger %s filters %v, want %v", name, tr.Spec.Filter.Attributes, want)
		}
		if tr.Spec.Broker != knativePrefix || tr.Spec.Subscriber.Ref.Kind != "Service" || tr.Spec.Subscriber.Ref.Name != "shop-notes-notify" {
			t.Errorf("trigger %s: broker %q, subscriber %+v", name, tr.Spec.Broker, tr.Spec.Subscriber.Ref)
		}
		if tr.Spec.Delivery.Retry != 4 || tr.Spec.Delivery.BackoffPolicy != "exponential" {
			t.Errorf("trigger %s: delivery %+v, want 4 retries (5 tries, the queue's receive count), exponential", name, tr.Spec.Delivery)
		}
	}

	sb, ok := objs["SinkBinding"]["shop-publishers"]
	if !ok || len(objs["SinkBinding"]) != 1 {
		t.Fatalf("sink bindings %v, want shop-publishers", slices.Collect(maps.Keys(objs["SinkBinding"])))
	}
	if m := sb.Spec.Subject.Selector.MatchExpressions; sb.Spec.Subject.Kind != "Service" || len(m) != 1 || m[0].Key != labelName || m[0].Operator != "In" ||
		!slices.Equal(m[0].Values, []string{"shop-orders-relay", "shop-platform-ingest"}) {
		t.Errorf("sink binding subject %+v, want the Services named shop-orders-relay and shop-platform-ingest", sb.Spec.Subject)
	}
	if sb.Spec.Sink.Ref.Kind != "Broker" || sb.Spec.Sink.Ref.Name != knativePrefix {
		t.Errorf("sink binding sink %+v, want the Broker", sb.Spec.Sink.Ref)
	}

	for name, svc := range objs["Service"] {
		for _, e := range svc.Spec.Template.Spec.Containers[0].Env {
			if e.Name == manifest.EnvEventBus || e.Name == manifest.EnvQueueURL {
				t.Errorf("Service %s has %s, which does not exist on Knative", name, e.Name)
			}
		}
		wantLocal := name != "shop-orders-create" && name != "shop-platform-ingest"
		if got := svc.Metadata.Labels[visibilityLabel] == "cluster-local"; got != wantLocal {
			t.Errorf("Service %s cluster-local %v, want %v (only routed functions are external)", name, got, wantLocal)
		}
	}
	relay := objs["Service"]["shop-orders-relay"]
	if a := relay.Spec.Template.Metadata.Annotations; a[minScaleAnnotation] != "1" || a[maxScaleAnnotation] != "1" {
		t.Errorf("relay annotations %v, want min-scale and max-scale 1", a)
	}
	var dlq *envVar
	for i, e := range relay.Spec.Template.Spec.Containers[0].Env {
		if e.Name == manifest.EnvDeadLetterQueueURL {
			dlq = &relay.Spec.Template.Spec.Containers[0].Env[i]
		}
	}
	if dlq == nil || dlq.ValueFrom == nil || dlq.ValueFrom.ConfigMapKeyRef.Name != bindingsConfigMap || dlq.ValueFrom.ConfigMapKeyRef.Key != "deadLetterQueueUrl-orders-relay" {
		t.Errorf("relay's %s: %+v, want the key deadLetterQueueUrl-orders-relay of %s", manifest.EnvDeadLetterQueueURL, dlq, bindingsConfigMap)
	}

	// Built, the account and region of the shop-aws ConfigMap reach the
	// dead-letter queue's URL.
	built := kustomizeBuild(t, files, map[string]string{"AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "eu-west-1"})
	if built == nil {
		return
	}
	for _, o := range decodeObjects(t, built) {
		if o.Kind == "ConfigMap" && o.Metadata.Name == bindingsConfigMap {
			if got, want := o.Data["deadLetterQueueUrl-orders-relay"], "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-orders-relay-dlq"; got != want {
				t.Errorf("built dead-letter queue URL %q, want %q", got, want)
			}
			return
		}
	}
	t.Errorf("no %s ConfigMap in the build", bindingsConfigMap)
}

// A pattern field a Trigger cannot filter on exactly refuses to render,
// rather than deliver on Knative events the rule never sends on AWS.
func TestKnativeRefusesAPatternATriggerCannotExpress(t *testing.T) {
	for _, pattern := range []string{
		"{detail: {data: {quantity: [{numeric: ['>', 0]}]}}}",
		"{detail: {subject: [a, b]}}",
		"{detail: {subject: [{prefix: op-}]}}",
		"{account: ['123456789012']}",
	} {
		if _, err := knativeFiles(eventsSet(t, pattern)); err == nil || !strings.Contains(err.Error(), "events.pattern") {
			t.Errorf("pattern %s: err %v, want a refusal naming events.pattern", pattern, err)
		}
	}
}
