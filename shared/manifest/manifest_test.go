package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/naming"
)

const goodService = `service: shop
description: test service
table:
  partitionKey: {name: pk, type: S}
  sortKey: {name: sk, type: S}
  ttl: ttl
  indexes:
    - {name: gsi1, partitionKey: {name: g, type: S}, projection: ALL}
`

const goodFunction = `name: shop-%s
description: test function
kind: http
http: {method: GET, path: "/v1/things/{id}", auth: none}
memory: 128
timeout: 5
environment:
  MODE: fast
  PORT: 8080
permissions:
  dynamodb: [GetItem]
`

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		path := filepath.Join(root, "functions", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func fn(op string) string { return strings.Replace(goodFunction, "%s", op, 1) }

func TestLoadValid(t *testing.T) {
	root := writeTree(t, map[string]string{"shop/service.yaml": goodService, "shop/get-thing/function.yaml": fn("get-thing")})
	set, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	fns := set.Functions()
	if len(fns) != 1 {
		t.Fatalf("%d functions", len(fns))
	}
	f := fns[0]
	if f.Name != "shop-get-thing" || f.Service != "shop" || f.Op != "get-thing" || f.Dir != "functions/shop/get-thing" {
		t.Fatalf("function = %+v", f)
	}
	if f.HTTP.RouteKey() != "GET /v1/things/{id}" || f.Environment["PORT"] != "8080" {
		t.Fatalf("route %q env %v", f.HTTP.RouteKey(), f.Environment)
	}
	env := Environment("acme", f)
	if env["SHOP_TABLE"] != "acme-shop" || env["SHOP_FUNCTION"] != "shop-get-thing" || env["SHOP_SERVICE"] != "shop" || env["MODE"] != "fast" {
		t.Fatalf("Environment = %v", env)
	}
	if naming.Function("acme", f.Name) != "acme-shop-get-thing" || naming.Table("acme", "shop") != "acme-shop" {
		t.Fatal("physical names")
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // every fragment must appear in the error
	}{
		{"unknown key in function", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": fn("a") + "colour: red\n"},
			[]string{"functions/shop/a/function.yaml", "colour"}},
		{"unknown key in service", map[string]string{"shop/service.yaml": goodService + "owner: me\n"},
			[]string{"functions/shop/service.yaml", "owner"}},
		{"service name differs from directory", map[string]string{"shop/service.yaml": strings.Replace(goodService, "service: shop", "service: other", 1)},
			[]string{"want the directory name"}},
		{"function name differs", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "name: shop-a", "name: shop-b", 1)},
			[]string{`want "shop-a"`}},
		{"missing fields", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": "name: shop-a\nkind: http\n"},
			[]string{"description: missing", "http: missing", "memory", "timeout"}},
		{"duplicate route", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": fn("a"), "shop/b/function.yaml": fn("b")},
			[]string{"functions/shop/b/function.yaml", "already declared by functions/shop/a/function.yaml"}},
		{"bad auth", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "auth: none", "auth: admin", 1)},
			[]string{"http.auth"}},
		{"http timeout over API Gateway's", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "timeout: 5", "timeout: 60", 1)},
			[]string{"integration limit"}},
		{"reserved environment", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "MODE: fast", "AWS_REGION: x", 1)},
			[]string{"reserved"}},
		{"YAML 1.1 boolean", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "MODE: fast", "MODE: on", 1)},
			[]string{"quote"}},
		{"YAML 1.1 timestamp", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "MODE: fast", "MODE: 2024-01-02", 1)},
			[]string{"quote"}},
		{"float that Terraform reprints", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "MODE: fast", "MODE: 1.50", 1)},
			[]string{"quote"}},
		{"unknown dynamodb action", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "[GetItem]", "[DeleteTable]", 1)},
			[]string{"DeleteTable"}},
		{"a transaction is not an IAM action", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "[GetItem]", "[PutItem, TransactWriteItems]", 1)},
			[]string{"TransactWriteItems", "not an IAM action", "ConditionCheckItem"}},
		{"nor a read transaction", map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": strings.Replace(fn("a"), "[GetItem]", "[TransactGetItems]", 1)},
			[]string{"TransactGetItems", "not an IAM action", "GetItem"}},
		{"bad index projection", map[string]string{"shop/service.yaml": strings.Replace(goodService, "projection: ALL", "projection: SOME", 1)},
			[]string{"projection"}},
		{"two documents", map[string]string{"shop/service.yaml": goodService + "---\nservice: x\n"},
			[]string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeTree(t, tt.files))
			if err == nil {
				t.Fatal("Load accepted a bad manifest")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestQuotedValuesAccepted(t *testing.T) {
	f := strings.Replace(fn("a"), "MODE: fast", `MODE: "on"`+"\n  RATE: '1.50'", 1)
	set, err := Load(writeTree(t, map[string]string{"shop/service.yaml": goodService, "shop/a/function.yaml": f}))
	if err != nil {
		t.Fatal(err)
	}
	env := set.Functions()[0].Environment
	if env["MODE"] != "on" || env["RATE"] != "1.50" {
		t.Fatalf("env = %v", env)
	}
}

func TestRepositoryManifestsLoad(t *testing.T) {
	set, err := Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if set.Service("users") == nil || set.Service("inventory") == nil {
		t.Fatal("users and inventory services missing")
	}
}

func TestInvokeResource(t *testing.T) {
	for route, want := range map[HTTPTrigger]string{
		{Method: "GET", Path: "/v1/users/{id}"}:           "GET/v1/users/*",
		{Method: "POST", Path: "/v1/products/{id}/stock"}: "POST/v1/products/*/stock",
		{Method: "POST", Path: "/v1/users"}:               "POST/v1/users",
		{Method: "PUT", Path: "/v1/a/{x}/b/{y}"}:          "PUT/v1/a/*/b/*",
	} {
		if got := route.InvokeResource(); got != want {
			t.Errorf("%s: InvokeResource = %q, want %q", route.RouteKey(), got, want)
		}
	}
}
