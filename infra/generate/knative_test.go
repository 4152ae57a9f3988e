package main

import (
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
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("SKIPPED: kubectl is not installed, so nothing builds the kustomization here (the generated files are still checked against the model)")
	}
	files, err := Files(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for rel, b := range files {
		if !strings.HasPrefix(rel, KnativeDir+"/") {
			continue
		}
		if filepath.Base(rel) == "kustomization.yaml" {
			b = []byte(strings.Replace(string(b), "AWS_ACCOUNT_ID="+placeholderAccount, "AWS_ACCOUNT_ID=123456789012", 1))
			b = append(b, "images:\n"...)
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
		t.Fatalf("kubectl kustomize: %v", err)
	}
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
	n := len(functionNames(t, files))
	if kinds["Service"] != n || kinds["ServiceAccount"] != n || kinds["Broker"] != 1 || kinds["SinkBinding"] != 1 || kinds["ConfigMap"] != 2 {
		t.Errorf("built %v, want a Service and a ServiceAccount for each of %d functions, a Broker, a SinkBinding, the AWS and bindings ConfigMaps", kinds, n)
	}
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
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "functions"), os.DirFS(filepath.Join("..", "..", "functions"))); err != nil {
		t.Fatal(err)
	}
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
