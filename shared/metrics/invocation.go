package metrics

import "time"

// Invocation measures one invocation of a function (an HTTP request, a saga
// step, an event batch, a stream batch): the runtime adapters Begin it when
// the invocation starts and End it when it answers.
type Invocation struct {
	start     time.Time
	coldStart bool
}

// Begin starts measuring an invocation; coldStart is log.ColdStart's answer
// for it.
func Begin(coldStart bool) Invocation { return Invocation{start: time.Now(), coldStart: coldStart} }

// End emits the invocation's line: Invocations 1, Errors errs (a 5xx
// answer, a failed step, the failed items of a batch), Latency in
// milliseconds since Begin, ColdStarts 1 or 0.
func (i Invocation) End(errs int) { i.EndTo(process(), errs) }

// EndTo is End on w.
func (i Invocation) EndTo(w *Writer, errs int) {
	cold := 0.0
	if i.coldStart {
		cold = 1
	}
	w.Emit([]Value{
		{Name: Invocations, Unit: UnitCount, Value: 1},
		{Name: Errors, Unit: UnitCount, Value: float64(errs)},
		{Name: Latency, Unit: UnitMilliseconds, Value: float64(time.Since(i.start).Microseconds()) / 1000},
		{Name: ColdStarts, Unit: UnitCount, Value: cold},
	})
}
