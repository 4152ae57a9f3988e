// Package errmap keeps, per service, one table from each domain error to
// what every edge needs of it: the HTTP status and the safe detail of its
// problem body, and a stable error type name for Step Functions. A service
// declares it once, in its errors.go:
//
//	var (
//		ErrNotFound          = errmap.New("ProductNotFound", "product not found")
//		ErrInsufficientStock = errmap.New("InsufficientStock", "insufficient stock")
//	)
//
//	var errs = errmap.Table{
//		{Err: ErrNotFound, Status: http.StatusNotFound, Detail: "product not found"},
//		{Err: ErrInsufficientStock, Status: http.StatusConflict, Detail: "not enough stock"},
//	}
//
// and returns errs.HTTP(err) from its handlers. The name matters because a
// state machine's Retry and Catch match errors by type name, and every
// sentinel made by errors.New has the same Go type (*errors.errorString):
// errmap.New gives each its own name, which shared/runtime reports as the
// errorType of a failed step (wrapped or not).
package errmap

import (
	"errors"
	"fmt"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
)

// Error is a domain error with a stable name. Compare with errors.Is: each
// value made by New is distinct.
type Error struct {
	name, msg string
}

// New returns a domain error named name (CamelCase, unique in its service:
// it is what a Step Functions Catch matches) with message msg (for logs).
func New(name, msg string) *Error { return &Error{name: name, msg: msg} }

func (e *Error) Error() string { return e.msg }

// ErrorType is the stable name shared/runtime reports to Step Functions.
func (e *Error) ErrorType() string { return e.name }

// Entry maps one domain error to its HTTP answer.
type Entry struct {
	Err    error
	Status int    // 4xx: what the caller did or asked for; 5xx would hide the cause
	Detail string // sent to the caller: safe, human-readable
	Field  string // the request field at fault, if one is ("cursor"): named in the problem's errors
}

// Table is a service's domain errors.
type Table []Entry

// HTTP returns the *httpapi.Error for the first entry err matches
// (errors.Is), with err kept as its cause for the logs; any other error is
// returned as it is (a 500 at the edge, logged, never shown).
func (t Table) HTTP(err error) error {
	for _, e := range t {
		if errors.Is(err, e.Err) {
			he := &httpapi.Error{Status: e.Status, Detail: e.Detail, Err: err}
			if e.Field != "" {
				he.Fields = []problem.FieldError{{Field: e.Field, Message: e.Detail}}
			}
			return he
		}
	}
	return err
}

// Validate checks a table once, in its service's tests: every error is an
// *Error, no name is used twice (a Catch would not tell the two apart) and
// every status is a 4xx.
func (t Table) Validate() error {
	names := map[string]bool{}
	for i, e := range t {
		var de *Error
		if !errors.As(e.Err, &de) || de != e.Err {
			return fmt.Errorf("errmap: entry %d (%v) is not made by errmap.New", i, e.Err)
		}
		if de.name == "" || names[de.name] {
			return fmt.Errorf("errmap: entry %d: name %q is empty or used twice", i, de.name)
		}
		names[de.name] = true
		if e.Status < 400 || e.Status > 499 || e.Detail == "" {
			return fmt.Errorf("errmap: entry %d (%s): status %d is not a 4xx, or no detail", i, de.name, e.Status)
		}
	}
	return nil
}

// Statuses returns the HTTP status of each of errs, for the operation's
// documentation (shared/apidoc). An error the table does not hold is a
// programming error: it panics, naming it.
func (t Table) Statuses(errs ...error) []int {
	out := make([]int, 0, len(errs))
	for _, err := range errs {
		found := false
		for _, e := range t {
			if e.Err == err {
				out = append(out, e.Status)
				found = true
				break
			}
		}
		if !found {
			panic(fmt.Sprintf("errmap: %v is not in the table", err))
		}
	}
	return out
}
