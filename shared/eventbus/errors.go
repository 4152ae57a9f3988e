package eventbus

import (
	"errors"
	"fmt"
	"strings"
)

// Failure is one event a publisher could not publish.
type Failure struct {
	Index int    // the event's position among those given to Publish
	ID    string // the event's id
	Type  string // the event's type
	// Permanent: the event itself is at fault (its schema, its size, an
	// entry the bus refused as malformed) and sending it again cannot
	// succeed. Otherwise the failure is transient: throttling, the bus's
	// internal failure, a call that did not get through.
	Permanent bool
	Reason    string // what the publisher or the bus said
	// Err is the cause when the failure came from this side (a failed
	// check, a failed call); nil for an entry the bus refused.
	Err error
}

func (f Failure) String() string {
	kind := "transient"
	if f.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s %s (%s): %s", f.Type, f.ID, kind, f.Reason)
}

// PublishError is the error of a Publish that left events unpublished: each
// with why and whether trying again can help. The other events of the call
// were published.
type PublishError struct {
	Total    int       // events the call was given
	Failures []Failure // in the order the events were given
}

func (e *PublishError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.String()
	}
	return fmt.Sprintf("eventbus: %d of %d events not published: %s", len(e.Failures), e.Total, strings.Join(parts, "; "))
}

// Unwrap gives the causes found on this side, so errors.Is(err, ErrInvalid)
// holds when an event failed its check.
func (e *PublishError) Unwrap() []error {
	var out []error
	for _, f := range e.Failures {
		if f.Err != nil {
			out = append(out, f.Err)
		}
	}
	return out
}

// Failures returns the events err says were not published, or nil when err
// is not a *PublishError.
func Failures(err error) []Failure {
	var pe *PublishError
	if errors.As(err, &pe) {
		return pe.Failures
	}
	return nil
}

// IsPermanent reports an error of Publish whose every failure is
// permanent: publishing the same events again cannot succeed. Any other
// error (a transient failure among them, or not a *PublishError) is not.
func IsPermanent(err error) bool {
	fs := Failures(err)
	if len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		if !f.Permanent {
			return false
		}
	}
	return true
}

// permanentCodes are the PutEvents entry error codes that say the entry
// itself is wrong, among those AWS documents as not retryable. The others it
// lists there (AccessDeniedException, NotAuthorizedForSourceException,
// NotAuthorizedForDetailTypeException) are a policy to fix, not an event to
// give up on: they count as transient, like InternalFailure,
// ThrottlingException and any code added later, so the event waits in its
// outbox record (retried, then parked by the stream mapping) until the
// policy is right.
var permanentCodes = map[string]bool{
	"InvalidArgument":           true,
	"MalformedDetail":           true,
	"InvalidAccountIdException": true,
	"RedactionFailure":          true,
}

// permanentCode reports an entry error code that retrying cannot fix.
func permanentCode(code string) bool { return permanentCodes[code] }
