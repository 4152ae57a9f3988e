// Command platform/ingest takes CloudEvents from other systems (POST
// /v1/events) and puts them on the bus; see package ingestion.
package main

import (
	"net/http"
	"os"

	"github.com/shop-serverless/shop/functions/platform/ingestion"
	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		regs, err := ingestion.ParseRegistrations(os.Getenv(ingestion.EnvRegistrations))
		if err != nil {
			return nil, err
		}
		pub, err := eventbus.FromEnv()
		if err != nil {
			return nil, err
		}
		return ingestion.Handler(pub, regs), nil
	})
}
