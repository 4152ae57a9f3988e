// Package identtest holds a written-out identifier check to the regular
// expression it stands for.
package identtest

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// SameAs fails t for every string on which check and expr disagree: edge
// cases (lengths at the usual limits, each character class, non-ASCII,
// invalid UTF-8, line breaks) and 20,000 random strings over an alphabet
// with every class the expressions treat differently.
func SameAs(t *testing.T, name string, check func(string) bool, expr string) {
	t.Helper()
	re := regexp.MustCompile(expr)
	for _, s := range inputs() {
		if got, want := check(s), re.MatchString(s); got != want {
			t.Errorf("%s(%q) = %v, %s says %v", name, s, got, expr, want)
		}
	}
}

func inputs() []string {
	in := []string{"", "a", "A", "0", "_", "-", ".", "#", "a#b", "a.b", "a_b", "a-b", "-a", ".a", "_a", "a\n", "\na", "é", "aé", "\xff", "a\x00",
		"0123456789abcdef-0123-4567-89ab-cdef01234567", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("é", 40)}
	alphabet := []string{"a", "Z", "9", "_", "-", ".", "#", " ", "é", "\xff", "\n", "\x00", "/"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		n := rng.IntN(132)
		classes := len(alphabet)
		if rng.IntN(4) > 0 { // mostly the allowed ASCII, so long strings reach the length limits
			classes = 5
		}
		for range n {
			b.WriteString(alphabet[rng.IntN(classes)])
		}
		in = append(in, b.String())
	}
	return in
}
