package inventory

import "strings"

// The identifier checks are written out rather than regular expressions: a
// counted repetition ({1,128}) compiles to one instruction per count, and
// compiling them at package init cost every function of the service about
// 0.35 ms of its cold start (GODEBUG=inittrace=1: 2,500 allocations).
// ids_test.go checks each against the expression it replaces.

// validSKU is ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
func validSKU(s string) bool { return s != "" && alnum(s[0]) && asciiWord(s, 64, "._-") }

// validOrderID is ^[A-Za-z0-9_-]{1,128}$: the ids orders makes (UUIDs) and
// room for other opaque ids, but nothing that could reach into another key
// ("#").
func validOrderID(s string) bool { return s != "" && asciiWord(s, 128, "_-") }

// asciiWord says whether s is at most maxLen ASCII letters, digits and
// bytes of punct. Bytes, not runes: a multi-byte rune is never allowed, so
// either count gives the same answer.
func asciiWord(s string, maxLen int, punct string) bool {
	if len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && strings.IndexByte(punct, c) < 0 {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
