// Package ident checks identifiers written out rather than as regular
// expressions: a counted repetition ({1,128}) compiles to one instruction
// per count, and compiling such expressions at package init cost every
// function of a service about 0.35 ms of its cold start
// (GODEBUG=inittrace=1: 2,500 allocations). Each check names the
// expression it stands for, and its callers' tests hold it to that
// expression (identtest.SameAs).
package ident

import "strings"

// ID is ^[A-Za-z0-9_-]{1,128}$: the ids the services make (UUIDs) and room
// for other opaque ids, but nothing that could reach into another key
// ("#").
func ID(s string) bool { return s != "" && Word(s, 128, "_-") }

// Word says whether s is at most maxLen ASCII letters, digits and bytes of
// punct (the empty string is one). Bytes, not runes: a multi-byte rune is
// never allowed, so either count gives the same answer.
func Word(s string, maxLen int, punct string) bool {
	if len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !Alnum(c) && strings.IndexByte(punct, c) < 0 {
			return false
		}
	}
	return true
}

// Alnum says whether c is an ASCII letter or digit.
func Alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
