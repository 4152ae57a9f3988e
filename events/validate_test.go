package catalog

import (
	"encoding/json"
	"math"
	"testing"
)

func TestDecisive(t *testing.T) {
	type want int
	const (
		integer want = iota
		fraction
	)
	for _, tc := range []struct {
		n    string
		kind want
		// the number compares with these integer bounds as n does
		over, under float64
	}{
		{"0", integer, -1, 1},
		{"-0", integer, -1, 1},
		{"1250", integer, 1249, 1251},
		{"1.0", integer, 0, 2},
		{"1e3", integer, 999, 1001},
		{"1.5", fraction, 1, 2},
		{"-1.5", fraction, -2, -1},
		{"1.00000000000000001", fraction, 1, 2},   // rounds to 1
		{"0.99999999999999999", fraction, 0, 1},   // rounds to 1
		{"-0.99999999999999999", fraction, -1, 0}, // rounds to -1
		{"1e-400", fraction, 0, 1},                // rounds to 0
		{"-1e-400", fraction, -1, 0},
		{"9007199254740993", integer, 1 << 51, math.MaxFloat64}, // 2^53+1: rounds, stays an integer
		{"1e400", integer, 1 << 51, math.Inf(1)},                // beyond float64: not infinity, still an integer
		{"-1e400", integer, math.Inf(-1), -(1 << 51)},
		{"4503599627370496.5", fraction, 1 << 51, math.Inf(1)}, // 2^52 + 0.5: no float64 has its fraction
		{"1e1000001", fraction, 1 << 51, math.Inf(1)},          // math/big refuses it; santhosh counts it as no integer
		{"1e-1000001", fraction, 0, 1},
	} {
		f := decisive(json.Number(tc.n))
		_, frac := math.Modf(f)
		if got := map[bool]want{true: integer, false: fraction}[frac == 0 && !math.IsInf(f, 0)]; got != tc.kind {
			t.Errorf("decisive(%s) = %v: integer %v, want %v", tc.n, f, got == integer, tc.kind == integer)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			t.Errorf("decisive(%s) = %v", tc.n, f)
		}
		if !(f > tc.over && f < tc.under) {
			t.Errorf("decisive(%s) = %v, want between %v and %v", tc.n, f, tc.over, tc.under)
		}
	}
}
