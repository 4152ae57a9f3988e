// Package money represents prices and totals as an integer number of minor units
// (cents) with an explicit ISO 4217 currency, so that no floating-point rounding
// ever reaches an order total and no two currencies are ever added together.
//
//	price, err := money.New(1234, "EUR") // 12.34 EUR
//
// Every Money this package produces is valid: an active, upper-case currency code and
// a non-negative amount. Prices, totals, charges and refunds are never negative, so a
// negative result is an error (ErrNegative) rather than a value to pass on; a
// difference that may go below zero is a business decision the caller makes
// explicitly by comparing amounts first. Use *Money for an optional amount: the zero
// Money has no currency and is invalid.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Money is an amount in the minor unit of its currency: {1234, "EUR"} is 12.34 EUR,
// {1234, "JPY"} is 1234 JPY, {1234, "KWD"} is 1.234 KWD. The validate tags let an HTTP
// edge name the offending field (price.amount) before Validate checks the currency.
type Money struct {
	Amount   int64  `json:"amount" validate:"gte=0"`
	Currency string `json:"currency" validate:"required"`
}

// Sentinel errors, matched with errors.Is; the returned errors add the values.
// Their text is written for the person who sent the amount, because an HTTP edge
// shows a Validate error to the client as is.
var (
	ErrUnknownCurrency  = errors.New("unknown currency")
	ErrCurrencyMismatch = errors.New("currency mismatch")
	ErrOverflow         = errors.New("amount out of range")
	ErrNegative         = errors.New("amount must not be negative")
)

// New returns amount minor units of currency, or the zero Money and the error
// Validate reports.
func New(amount int64, currency string) (Money, error) {
	m := Money{Amount: amount, Currency: currency}
	if err := m.Validate(); err != nil {
		return Money{}, err
	}
	return m, nil
}

// Validate reports ErrUnknownCurrency unless the currency is an active ISO 4217 code
// written in upper case, and ErrNegative for a negative amount. Lower-case codes are
// rejected rather than folded so that stored values compare equal byte for byte.
func (m Money) Validate() error {
	if _, ok := MinorUnits(m.Currency); !ok {
		return unknownCurrency(m.Currency)
	}
	if m.Amount < 0 {
		return fmt.Errorf("%w: %s", ErrNegative, m)
	}
	return nil
}

func unknownCurrency(code string) error {
	if code == "" {
		return fmt.Errorf("%w: the currency code is empty, want an ISO 4217 code such as EUR", ErrUnknownCurrency)
	}
	if upper := strings.ToUpper(code); upper != code {
		if _, ok := MinorUnits(upper); ok {
			return fmt.Errorf("%w %q: currency codes are upper-case, use %q", ErrUnknownCurrency, code, upper)
		}
	}
	return fmt.Errorf("%w %q: want an active ISO 4217 code such as EUR", ErrUnknownCurrency, code)
}

// Add returns m + o. Both must be valid and in the same currency.
func (m Money) Add(o Money) (Money, error) {
	if err := m.compatible(o); err != nil {
		return Money{}, err
	}
	// Both amounts are non-negative here, so only the upper bound can be crossed.
	if m.Amount > math.MaxInt64-o.Amount {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrOverflow, m, o)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Sub returns m - o. Both must be valid and in the same currency, and o must not
// exceed m: a negative result is ErrNegative.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.compatible(o); err != nil {
		return Money{}, err
	}
	if o.Amount > m.Amount {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrNegative, m, o)
	}
	return Money{Amount: m.Amount - o.Amount, Currency: m.Currency}, nil
}

// MulInt returns m * n, as for a line item's unit price times its quantity. A
// negative n is ErrNegative.
func (m Money) MulInt(n int64) (Money, error) {
	if err := m.Validate(); err != nil {
		return Money{}, err
	}
	if n < 0 {
		return Money{}, fmt.Errorf("%w: %s * %d", ErrNegative, m, n)
	}
	if n != 0 && m.Amount > math.MaxInt64/n {
		return Money{}, fmt.Errorf("%w: %s * %d", ErrOverflow, m, n)
	}
	return Money{Amount: m.Amount * n, Currency: m.Currency}, nil
}

// compatible validates both operands first, so that arithmetic can never launder an
// invalid value into a result that looks valid.
func (m Money) compatible(o Money) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if m.Currency != o.Currency {
		return fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	return nil
}

// pow10 covers every exponent in the currency table.
var pow10 = [...]uint64{1, 10, 100, 1000}

// String formats m in major units with the currency's decimals: "12.34 EUR",
// "1234 JPY", "1.234 KWD". It never fails, so that it is safe in logs and error
// messages: an unknown currency prints the raw minor units ("1234 XYZ") and an
// invalid negative amount keeps its sign.
func (m Money) String() string {
	exp, ok := MinorUnits(m.Currency)
	if !ok || exp == 0 {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	sign := ""
	magnitude := uint64(m.Amount)
	if m.Amount < 0 {
		sign = "-"
		magnitude = -magnitude // two's complement: correct even for math.MinInt64
	}
	unit := pow10[exp]
	return fmt.Sprintf("%s%d.%0*d %s", sign, magnitude/unit, exp, magnitude%unit, m.Currency)
}
