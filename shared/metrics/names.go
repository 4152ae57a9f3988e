package metrics

// Namespace is where every shop metric lives in CloudWatch.
const Namespace = "shop"

// Dimension names. Every metric carries DimService and DimFunction (the
// manifest's service and function names, SHOP_SERVICE and SHOP_FUNCTION);
// some add one more, named with each metric below.
const (
	DimService  = "service"
	DimFunction = "function"
	DimReason   = "reason"   // OrdersCancelled: the saga's cancel reason (OUT_OF_STOCK, ...)
	DimCurrency = "currency" // Revenue: ISO 4217 code
	DimState    = "state"    // BreakerTransitions: the state entered (open, half-open, closed)
)

// Metric names, with unit and dimensions. The alarms and the dashboard
// (shared/deployment) are built on these names: change one here and they
// follow.
const (
	// Every invocation (HTTP request, saga step, event batch, stream batch),
	// dimensions service, function.
	Invocations = "Invocations" // Count
	Errors      = "Errors"      // Count: a 5xx answer, a failed step, a failed batch item
	Latency     = "Latency"     // Milliseconds, from the adapter's start to its answer
	ColdStarts  = "ColdStarts"  // Count: the first invocation of a process

	// The saga's outcome, counted once per order by the step that records
	// it (orders-mark-confirmed, orders-mark-cancelled), not again on a
	// retried step.
	OrdersConfirmed = "OrdersConfirmed" // Count; service, function
	OrdersCancelled = "OrdersCancelled" // Count; service, function, reason
	Revenue         = "Revenue"         // None (minor units); service, function, currency

	// A circuit breaker entering a state; service, function, state.
	BreakerTransitions = "BreakerTransitions" // Count

	// Events.
	EventsPublished = "EventsPublished" // Count; the relays and ingest, per event put on the bus
	EventsConsumed  = "EventsConsumed"  // Count; a consumer, per event handled (a duplicate is not counted)
	DeadLettered    = "DeadLettered"    // Count; a relay parking a record, a consumer giving up on poison
)
