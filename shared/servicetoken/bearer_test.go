package servicetoken

import "testing"

func TestFromBearer(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":     "abc",
		"bearer abc":     "abc",
		"  BEARER  abc ": "abc",
		"Bearer":         "",
		"Bearer ":        "",
		"Basic abc":      "",
		"abc":            "",
		"":               "",
	} {
		got, ok := FromBearer(header)
		if got != want || ok != (want != "") {
			t.Errorf("FromBearer(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
