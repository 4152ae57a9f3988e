package eventbus

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
)

// EventBridge's limits on PutEvents.
const (
	// MaxEntryBytes is the most an entry may weigh, counted as EventBridge
	// counts it (EntrySize).
	MaxEntryBytes = envelope.MaxEntryBytes
	// MaxBatch is the most entries one PutEvents call takes.
	MaxBatch = 10
)

// Entry is e as a PutEvents entry: Source and DetailType are e's source and
// type, Detail its structured JSON, Time its time (so an archive replay
// window is one of event times). The publisher adds the bus and the trace
// header. It fails as Check does.
func Entry(e event.Event) (types.PutEventsRequestEntry, error) {
	detail, _, err := encode(e)
	if err != nil {
		return types.PutEventsRequestEntry{}, err
	}
	return entry(e, detail), nil
}

func entry(e event.Event, detail []byte) types.PutEventsRequestEntry {
	out := types.PutEventsRequestEntry{
		Source:     aws.String(e.Source()),
		DetailType: aws.String(e.Type()),
		Detail:     aws.String(string(detail)),
	}
	if t := e.Time(); !t.IsZero() {
		out.Time = aws.Time(t)
	}
	return out
}

// EntrySize is the size EventBridge counts for an entry against
// MaxEntryBytes ("Calculating PutEvents event entry size" in its user
// guide): 14 bytes for Time if set, and the UTF-8 bytes of Source,
// DetailType, Detail and each resource. The bus name and trace header do not
// count.
func EntrySize(in types.PutEventsRequestEntry) int {
	n := envelope.EntrySize(aws.ToString(in.Source), aws.ToString(in.DetailType), []byte(aws.ToString(in.Detail)), in.Time != nil)
	for _, r := range in.Resources {
		n += len(r)
	}
	return n
}
