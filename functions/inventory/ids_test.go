package inventory

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestIdentifierChecksMatchTheirExpressions holds each written-out check to
// the regular expression it replaced, on edge cases and on random strings
// over an alphabet with every class the expressions treat differently.
func TestIdentifierChecksMatchTheirExpressions(t *testing.T) {
	checks := []struct {
		name  string
		check func(string) bool
		expr  string
	}{
		{"validSKU", validSKU, `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{"validOrderID", validOrderID, `^[A-Za-z0-9_-]{1,128}$`},
	}
	edges := []string{"", "a", "A", "0", "_", "-", ".", "#", "a#b", "a.b", "a_b", "a-b", "-a", ".a", "_a", "a\n", "\na", "é", "aé", "\xff", "a\x00",
		"0123456789abcdef-0123-4567-89ab-cdef01234567", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("é", 40)}
	alphabet := []string{"a", "Z", "9", "_", "-", ".", "#", " ", "é", "\xff", "\n", "\x00", "/"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		n := rng.IntN(132)
		if rng.IntN(4) > 0 { // mostly the allowed ASCII, so long strings reach the length limits
			for range n {
				b.WriteString(alphabet[rng.IntN(5)])
			}
		} else {
			for range n {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
		}
		edges = append(edges, b.String())
	}
	for _, c := range checks {
		re := regexp.MustCompile(c.expr)
		for _, s := range edges {
			if got, want := c.check(s), re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, %s says %v", c.name, s, got, c.expr, want)
			}
		}
	}
}
