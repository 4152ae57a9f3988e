// Command platform-openapi serves GET /v1/openapi.json: the OpenAPI 3.1
// document of the HTTP API. make generate writes openapi.json beside this
// file (infra/generate, from the manifests and each service's Operations),
// here because go:embed takes files of the package's own directory only,
// and a test fails while it is stale.
package main

import (
	_ "embed"
	"net/http"

	"github.com/shop-serverless/shop/functions/platform"
	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/httpfn"
)

//go:embed openapi.json
var document []byte

func main() {
	httpfn.Start(func(httpfn.Deps) (http.Handler, error) {
		return platform.Document(document, apidoc.DocumentCacheControl), nil
	})
}
