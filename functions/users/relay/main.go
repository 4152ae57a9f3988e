// Command users/relay publishes the users service's events: it reads new outbox items from the table's stream and puts their events on the bus.
package main

import "github.com/shop-serverless/shop/shared/outbox/relay"

func main() { relay.Start() }
