package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoadFunction feeds the manifest loader arbitrary function.yaml
// bytes (loadFunction, as Load calls it for every function). No input
// panics; one it accepts holds what the deployer relies on (its name, a
// known kind with its trigger, memory and timeout in range, a valid route,
// no reserved environment variable, state machines of its service), and
// written back as YAML it loads again to the same function (the same YAML).
func FuzzLoadFunction(f *testing.F) {
	f.Add([]byte(`name: orders-create
description: d
kind: http
http: {method: POST, path: /v1/orders/{id}, auth: user}
memory: 128
timeout: 10
environment: {FOO: bar}
permissions: {dynamodb: [GetItem, PutItem], startExecution: [saga], calls: [users], publicKeys: true}
`))
	f.Add([]byte("name: orders-create\ndescription: d\nkind: event\nevents: {types: [shop.order.created.v1]}\nmemory: 128\ntimeout: 3\n"))
	f.Add([]byte("name: orders-create\ndescription: d\nkind: step\nmemory: 10240\ntimeout: 900\npermissions: {dynamodb: [TransactWriteItems]}\n"))
	f.Add([]byte("name: orders-create\ndescription: d\nkind: http\nhttp: {method: GET, path: /a, auth: 'scope:orders:read'}\nmemory: 128\ntimeout: 30\n"))
	f.Add([]byte("name: orders-create\nunknown: 1\n---\nname: x\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("environment: {AWS_REGION: x, 'a b': y, N: [1]}\n"))
	f.Add([]byte(""))
	svc := &Service{Name: "orders", Dir: "functions/orders", StateMachines: []*StateMachine{{Name: "saga"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "functions", "orders", "create")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "function.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fn, err := loadFunction(root, svc, file)
		if err != nil {
			return
		}
		if fn.Name != "orders-create" || fn.Service != "orders" || fn.Op != "create" || fn.Dir != "functions/orders/create" || fn.Description == "" {
			t.Fatalf("accepted identity %q %q %q %q", fn.Name, fn.Service, fn.Op, fn.Dir)
		}
		if !slices.Contains([]string{KindHTTP, KindEvent, KindStep, KindAuthorizer, KindStream}, fn.Kind) ||
			(fn.Kind == KindHTTP) != (fn.HTTP != nil) || (fn.Kind == KindEvent) != (fn.Events != nil) {
			t.Fatalf("accepted kind %q with http %v, events %v", fn.Kind, fn.HTTP, fn.Events)
		}
		if fn.MemoryMB < minMemoryMB || fn.MemoryMB > maxMemoryMB || fn.TimeoutSecs < 1 || fn.TimeoutSecs > maxTimeoutSeconds {
			t.Fatalf("accepted memory %d, timeout %d", fn.MemoryMB, fn.TimeoutSecs)
		}
		if h := fn.HTTP; h != nil {
			if !slices.Contains(httpMethods, h.Method) || !pathRE.MatchString(h.Path) || fn.TimeoutSecs > maxHTTPTimeoutSecs {
				t.Fatalf("accepted route %q, timeout %d", h.RouteKey(), fn.TimeoutSecs)
			}
			if h.Auth != AuthNone && h.Auth != AuthUser && !regexp.MustCompile(`^scope:`).MatchString(h.Auth) {
				t.Fatalf("accepted auth %q", h.Auth)
			}
		}
		for k := range fn.Environment {
			if !envRE.MatchString(k) || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "SHOP_") {
				t.Fatalf("accepted environment variable %q", k)
			}
		}
		for _, sm := range fn.Permissions.StartExecution {
			if sm != "saga" {
				t.Fatalf("accepted startExecution %q", sm)
			}
		}
		out, err := yaml.Marshal(fn)
		if err != nil {
			t.Fatalf("accepted function does not marshal: %v", err)
		}
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := loadFunction(root, svc, file)
		if err != nil {
			t.Fatalf("written back as\n%s\nit no longer loads: %v", out, err)
		}
		// Compared as YAML: a nil list and an empty one are the same manifest.
		if out2, err := yaml.Marshal(again); err != nil || string(out2) != string(out) {
			t.Fatalf("round trip changed it:\n%s\n%s", out, out2)
		}
	})
}
