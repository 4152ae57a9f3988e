package breaker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults for zero Settings fields.
const (
	DefaultFailureRatio  = 0.5
	DefaultMinRequests   = 5
	DefaultInterval      = 30 * time.Second
	DefaultOpenTimeout   = 10 * time.Second
	DefaultSharedRefresh = 2 * time.Second
	DefaultProbeTimeout  = 5 * time.Second

	// MaxSharedRefresh bounds SharedRefresh: the promise is that every
	// instance sees a trip within 5 s.
	MaxSharedRefresh = 5 * time.Second
)

// Settings configure a Breaker. Zero fields take the defaults above.
type Settings struct {
	// Name is the dependency, e.g. "users": the shared item's key and the
	// name in errors and logs.
	Name string
	// FailureRatio trips the breaker when failures/completed calls reaches it
	// (0 < ratio <= 1; default 0.5) ...
	FailureRatio float64
	// ... over at least MinRequests completed calls (default 5) ...
	MinRequests uint32
	// ... within a rolling window of Interval (default 30 s).
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before one probe call
	// is let through (default 10 s).
	OpenTimeout time.Duration
	// SharedRefresh is how stale this instance's copy of the shared state may
	// be (default 2 s, at most MaxSharedRefresh).
	SharedRefresh time.Duration
	// ProbeTimeout is the longest a probe call may run, and so how long its
	// fleet-wide lease lasts if the prober dies (default 5 s). The probe's
	// context is cut to it; a caller's earlier deadline still wins.
	ProbeTimeout time.Duration
	// IsFailure tells a failed call from one that merely returned an error a
	// healthy dependency gives (a 404, say). Default: any non-nil error but
	// context.Canceled. A cancellation it does not call a failure is not
	// counted at all: the caller gave up, which says nothing about the
	// dependency.
	IsFailure func(error) bool
	// Now is the clock for the shared state (tests); default time.Now. The
	// per-instance gobreaker keeps its own wall clock.
	Now func() time.Time
}

func (s Settings) withDefaults() Settings {
	if s.FailureRatio <= 0 {
		s.FailureRatio = DefaultFailureRatio
	}
	if s.FailureRatio > 1 {
		s.FailureRatio = 1
	}
	if s.MinRequests == 0 {
		s.MinRequests = DefaultMinRequests
	}
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = DefaultOpenTimeout
	}
	if s.SharedRefresh <= 0 {
		s.SharedRefresh = DefaultSharedRefresh
	}
	if s.SharedRefresh > MaxSharedRefresh {
		s.SharedRefresh = MaxSharedRefresh
	}
	if s.ProbeTimeout <= 0 {
		s.ProbeTimeout = DefaultProbeTimeout
	}
	if s.IsFailure == nil {
		s.IsFailure = defaultIsFailure
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

func defaultIsFailure(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}

// SettingsFromEnv returns the default Settings for the dependency name with
// the operator's overrides applied, so that one dependency's breaker can be
// tuned without a code change:
//
//	BREAKER_<NAME>_FAILURE_RATIO  a number in (0, 1]
//	BREAKER_<NAME>_MIN_REQUESTS   a positive integer
//	BREAKER_<NAME>_OPEN_TIMEOUT   a Go duration ("30s")
//
// <NAME> is name in upper case with every character other than A-Z and 0-9
// turned into "_" ("payment-provider" -> PAYMENT_PROVIDER). Every bad
// variable is reported, and the error never quotes a value.
func SettingsFromEnv(name string) (Settings, error) {
	s := Settings{Name: name}.withDefaults()
	s.Now = nil // keep the zero value: the clock is not configuration
	prefix := "BREAKER_" + envName(name) + "_"
	var errs []error
	if v, ok := os.LookupEnv(prefix + "FAILURE_RATIO"); ok {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(r > 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("%sFAILURE_RATIO: want a number in (0, 1]", prefix))
		} else {
			s.FailureRatio = r
		}
	}
	if v, ok := os.LookupEnv(prefix + "MIN_REQUESTS"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || n == 0 {
			errs = append(errs, fmt.Errorf("%sMIN_REQUESTS: want a positive integer", prefix))
		} else {
			s.MinRequests = uint32(n)
		}
	}
	if v, ok := os.LookupEnv(prefix + "OPEN_TIMEOUT"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%sOPEN_TIMEOUT: want a positive Go duration such as 30s", prefix))
		} else {
			s.OpenTimeout = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, fmt.Errorf("breaker %s: %w", name, err)
	}
	return s, nil
}

func envName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
