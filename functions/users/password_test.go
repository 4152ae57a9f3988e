package users

import (
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	hash, err := hashPassword("correct horse 1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with our parameters", hash)
	}
	if strings.Contains(hash, "correct horse") {
		t.Fatal("hash contains the password")
	}
	ok, err := verifyPassword("correct horse 1", hash)
	if err != nil || !ok {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	ok, err = verifyPassword("correct horse 2", hash)
	if err != nil || ok {
		t.Fatalf("verify wrong password = %v, %v", ok, err)
	}
	again, _ := hashPassword("correct horse 1")
	if again == hash {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyPasswordRejectsMalformed(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=18$m=1,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=1,t=1,p=1$!!$AAAA", "$argon2id$v=19$m=1,t=1,p=1$AAAA$",
	} {
		if _, err := verifyPassword("x", h); err == nil {
			t.Errorf("verifyPassword accepted %q", h)
		}
	}
}

// Unknown emails are checked against dummyHash so they cost what a wrong
// password costs: its parameters must be the ones real hashes get.
func TestDummyHashMatchesRealParameters(t *testing.T) {
	real, err := hashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	params := func(h string) string { return strings.Join(strings.Split(h, "$")[:4], "$") }
	if params(dummyHash) != params(real) {
		t.Fatalf("dummy hash parameters %q differ from real ones %q", params(dummyHash), params(real))
	}
	if ok, err := verifyPassword("correct horse 1", dummyHash); err != nil || ok {
		t.Fatalf("dummy hash verify = %v, %v", ok, err)
	}
}
