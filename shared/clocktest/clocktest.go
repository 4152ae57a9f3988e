// Package clocktest is the settable clock tests hand to code that takes a
// now func (time.Now in production): time moves only when the test says so.
//
//	c := clocktest.New(time.Unix(1_700_000_000, 0))
//	src.now = c.Now
//	c.Advance(5 * time.Minute)
package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable time source, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock that reads t until moved.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the Clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the Clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the Clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
