package jwksstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

var _ keystore.JWKSStore = (*Store)(nil)

// testJWKSStore runs Load and Save against api: the unit test on the
// fake, the integration test on the emulator.
func testJWKSStore(t *testing.T, api SSMAPI, parameter string, otherWriter func(value string)) {
	t.Helper()
	ctx := context.Background()
	store := New(api, parameter)
	if got := store.String(); got != "JWKS parameter "+parameter {
		t.Fatalf("String() = %q", got)
	}
	if doc, v, found, err := store.Load(ctx); err != nil || found || v != 0 || doc != "" {
		t.Fatalf("Load of no parameter = %q, %d, %v, %v; want not found", doc, v, found, err)
	}
	one := jwksOf(t, ordersIssuer, ordersKID, testKey("orders"))
	if err := store.Save(ctx, one, 0); err != nil {
		t.Fatalf("first Save: %v", err)
	}
	doc, v1, found, err := store.Load(ctx)
	if err != nil || !found || doc != one || v1 < 1 {
		t.Fatalf("Load = %q, %d, %v, %v; want the saved document", doc, v1, found, err)
	}
	// The parameter is what verifiers read.
	if keys, err := servicetoken.ParseJWKS([]byte(doc)); err != nil || len(keys) != 1 {
		t.Fatalf("the saved JWKS: %v, %v", keys, err)
	}

	two := jwksOf(t, ordersIssuer, ordersKID, testKey("orders"), usersIssuer, usersKID, testKey("users"))
	if err := store.Save(ctx, two, v1); err != nil {
		t.Fatalf("Save over the version read: %v", err)
	}
	_, v2, _, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Another writer between our Load and Save: reported, after writing.
	otherWriter(`{"keys":[]}`)
	err = store.Save(ctx, one, v2)
	if !errors.Is(err, servicetoken.ErrConcurrentEdit) || !strings.Contains(err.Error(), parameter) {
		t.Fatalf("Save over a concurrent edit: %v, want ErrConcurrentEdit naming %s", err, parameter)
	}
	if doc, _, _, err := store.Load(ctx); err != nil || doc != one {
		t.Fatalf("after the reported Save: %q, %v; want our document written", doc, err)
	}
}

func TestJWKSStore(t *testing.T) {
	api := awstest.NewSSM()
	testJWKSStore(t, api, testParam, func(value string) { api.Set(testParam, value) })
}

func TestJWKSStoreOnEmulator(t *testing.T) {
	emu := awstest.NewEmulator(t)
	param := naming.JWKSParameter(emu.Prefix)
	store := New(emu.SSM, param)
	testJWKSStore(t, emu.SSM, param, func(value string) {
		// Through the store with a stale version: a plain overwrite.
		if err := store.Save(context.Background(), value, 1<<40); err != nil {
			t.Fatal(err)
		}
	})
}

// The SDK retries a put whose response was lost; the versions that makes
// hold our own value and are no concurrent edit.
func TestJWKSStoreRetriedPutIsNotAConcurrentEdit(t *testing.T) {
	api := awstest.NewSSM()
	api.Retries = 2
	if err := New(api, testParam).Save(context.Background(), `{"keys":[]}`, 0); err != nil {
		t.Fatal(err)
	}
	if v := api.Version(testParam); v != 3 {
		t.Fatalf("version %d, want 3: the retries did not happen", v)
	}
}

func TestJWKSStoreLoadFailure(t *testing.T) {
	api := awstest.NewSSM()
	boom := errors.New("throttled")
	api.GetErr = boom
	if _, _, found, err := New(api, testParam).Load(context.Background()); !errors.Is(err, boom) || found {
		t.Fatalf("Load = found %v, %v; want the SSM error", found, err)
	}
}
