package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestCurrencyTableIsSortedAndWellFormed(t *testing.T) {
	for i, c := range currencies {
		if len(c.code) != 3 || strings.ToUpper(c.code) != c.code {
			t.Errorf("row %d: code %q is not three upper-case letters", i, c.code)
		}
		if c.exponent < 0 || c.exponent >= len(pow10) {
			t.Errorf("%s: exponent %d outside pow10", c.code, c.exponent)
		}
		if i > 0 && currencies[i-1].code >= c.code {
			t.Errorf("table not strictly sorted at %s after %s: MinorUnits's binary search depends on it", c.code, currencies[i-1].code)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	tests := []struct {
		code   string
		want   int
		wantOK bool
	}{
		{"EUR", 2, true}, {"USD", 2, true}, {"GBP", 2, true}, {"CHF", 2, true},
		{"JPY", 0, true}, {"KRW", 0, true}, {"CLP", 0, true},
		{"KWD", 3, true}, {"BHD", 3, true}, {"JOD", 3, true}, {"OMR", 3, true}, {"TND", 3, true},
		{"AED", 2, true}, {"ZWG", 2, true}, // the first and last rows
		{"eur", 0, false}, {"XAU", 0, false}, {"HRK", 0, false}, {"", 0, false}, {"EURO", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, ok := MinorUnits(tt.code)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("MinorUnits(%q) = %d, %v; want %d, %v", tt.code, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNewAndValidate(t *testing.T) {
	tests := []struct {
		name        string
		amount      int64
		currency    string
		wantErr     error
		wantMessage string // a substring the client will read
	}{
		{name: "euros", amount: 1234, currency: "EUR"},
		{name: "zero", amount: 0, currency: "JPY"},
		{name: "max", amount: math.MaxInt64, currency: "KWD"},
		{name: "negative", amount: -1, currency: "EUR", wantErr: ErrNegative, wantMessage: "-0.01 EUR"},
		{name: "lower case", amount: 1, currency: "eur", wantErr: ErrUnknownCurrency, wantMessage: `upper-case, use "EUR"`},
		{name: "mixed case", amount: 1, currency: "Usd", wantErr: ErrUnknownCurrency, wantMessage: `use "USD"`},
		{name: "unknown", amount: 1, currency: "XYZ", wantErr: ErrUnknownCurrency, wantMessage: `"XYZ"`},
		{name: "lower unknown", amount: 1, currency: "xyz", wantErr: ErrUnknownCurrency, wantMessage: "active ISO 4217"},
		{name: "empty", amount: 1, currency: "", wantErr: ErrUnknownCurrency, wantMessage: "empty"},
		{name: "bad currency wins over negative", amount: -1, currency: "ABC", wantErr: ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.amount, tt.currency)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New(%d, %q) error = %v, want %v", tt.amount, tt.currency, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if m != (Money{}) {
					t.Errorf("New returned %+v with an error, want the zero Money", m)
				}
				if !strings.Contains(err.Error(), tt.wantMessage) {
					t.Errorf("error %q does not contain %q", err, tt.wantMessage)
				}
				if err2 := (Money{Amount: tt.amount, Currency: tt.currency}).Validate(); err2 == nil || err2.Error() != err.Error() {
					t.Errorf("Validate() = %v, want the error New returned (%v)", err2, err)
				}
				return
			}
			if m.Amount != tt.amount || m.Currency != tt.currency {
				t.Errorf("New(%d, %q) = %+v", tt.amount, tt.currency, m)
			}
		})
	}
}

func TestArithmetic(t *testing.T) {
	eur := func(a int64) Money { return Money{Amount: a, Currency: "EUR"} }
	usd := Money{Amount: 100, Currency: "USD"}
	tests := []struct {
		name    string
		op      func() (Money, error)
		want    Money
		wantErr error
	}{
		{"add", func() (Money, error) { return eur(150).Add(eur(275)) }, eur(425), nil},
		{"add zero", func() (Money, error) { return eur(0).Add(eur(0)) }, eur(0), nil},
		{"add to max", func() (Money, error) { return eur(math.MaxInt64 - 1).Add(eur(1)) }, eur(math.MaxInt64), nil},
		{"add overflow", func() (Money, error) { return eur(math.MaxInt64).Add(eur(1)) }, Money{}, ErrOverflow},
		{"add mismatch", func() (Money, error) { return eur(1).Add(usd) }, Money{}, ErrCurrencyMismatch},
		{"add invalid operand", func() (Money, error) { return eur(1).Add(eur(-1)) }, Money{}, ErrNegative},
		{"add unknown currency", func() (Money, error) {
			return Money{1, "XXX"}.Add(Money{1, "XXX"})
		}, Money{}, ErrUnknownCurrency},
		{"sub", func() (Money, error) { return eur(500).Sub(eur(125)) }, eur(375), nil},
		{"sub to zero", func() (Money, error) { return eur(500).Sub(eur(500)) }, eur(0), nil},
		{"sub below zero", func() (Money, error) { return eur(1).Sub(eur(2)) }, Money{}, ErrNegative},
		{"sub mismatch", func() (Money, error) { return usd.Sub(eur(1)) }, Money{}, ErrCurrencyMismatch},
		{"mul", func() (Money, error) { return eur(1999).MulInt(3) }, eur(5997), nil},
		{"mul zero", func() (Money, error) { return eur(math.MaxInt64).MulInt(0) }, eur(0), nil},
		{"mul by one at max", func() (Money, error) { return eur(math.MaxInt64).MulInt(1) }, eur(math.MaxInt64), nil},
		{"mul overflow", func() (Money, error) { return eur(math.MaxInt64/2 + 1).MulInt(2) }, Money{}, ErrOverflow},
		{"mul large overflow", func() (Money, error) { return eur(3).MulInt(math.MaxInt64) }, Money{}, ErrOverflow},
		{"mul negative", func() (Money, error) { return eur(3).MulInt(-1) }, Money{}, ErrNegative},
		{"mul invalid", func() (Money, error) { return Money{3, "eur"}.MulInt(2) }, Money{}, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.op()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{1234, "EUR"}, "12.34 EUR"},
		{Money{5, "EUR"}, "0.05 EUR"},
		{Money{0, "USD"}, "0.00 USD"},
		{Money{1234, "JPY"}, "1234 JPY"},
		{Money{1234, "KWD"}, "1.234 KWD"},
		{Money{7, "BHD"}, "0.007 BHD"},
		{Money{math.MaxInt64, "EUR"}, "92233720368547758.07 EUR"},
		{Money{-5, "EUR"}, "-0.05 EUR"},
		{Money{math.MinInt64, "EUR"}, "-92233720368547758.08 EUR"},
		{Money{1234, "XYZ"}, "1234 XYZ"},
		{Money{}, "0 "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
}

// FuzzArithmetic checks the overflow guards against exact big-integer arithmetic:
// every result is either the exact answer or the error that explains why not.
func FuzzArithmetic(f *testing.F) {
	f.Add(int64(1), int64(2), int64(3))
	f.Add(int64(math.MaxInt64), int64(1), int64(2))
	f.Add(int64(math.MaxInt64/3), int64(0), int64(4))
	f.Add(int64(-1), int64(5), int64(-2))
	f.Fuzz(func(t *testing.T, a, b, n int64) {
		ma, mb := Money{a, "EUR"}, Money{b, "EUR"}
		invalid := a < 0 || b < 0
		check := func(op string, got Money, err error, exact *big.Int) {
			t.Helper()
			switch {
			case invalid || exact.Sign() < 0:
				if !errors.Is(err, ErrNegative) {
					t.Fatalf("%s(%d, %d, %d): error %v, want ErrNegative", op, a, b, n, err)
				}
			case !exact.IsInt64():
				if !errors.Is(err, ErrOverflow) {
					t.Fatalf("%s(%d, %d, %d): error %v, want ErrOverflow", op, a, b, n, err)
				}
			default:
				if err != nil || got.Amount != exact.Int64() || got.Currency != "EUR" {
					t.Fatalf("%s(%d, %d, %d) = %+v, %v; want %d EUR", op, a, b, n, got, err, exact)
				}
			}
		}
		sum, err := ma.Add(mb)
		check("Add", sum, err, new(big.Int).Add(big.NewInt(a), big.NewInt(b)))
		diff, err := ma.Sub(mb)
		check("Sub", diff, err, new(big.Int).Sub(big.NewInt(a), big.NewInt(b)))
		invalid = a < 0 || n < 0
		prod, err := ma.MulInt(n)
		check("MulInt", prod, err, new(big.Int).Mul(big.NewInt(a), big.NewInt(n)))
	})
}
