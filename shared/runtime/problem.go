package runtime

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/problem"
)

// WriteProblem answers r with a problem body (type about:blank, the status
// text as title, detail, and r's X-Request-Id). It is for the errors an
// entry point answers itself rather than its handler: a delivery that is not
// valid for the shape, or a handler failure reported without its cause. detail
// reaches the caller: it may say what is wrong with the request, never echo an
// internal error.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p := problem.New(status, detail)
	p.RequestID = r.Header.Get("X-Request-Id")
	p.Write(w)
}
