package notifications

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/testenv"
)

func manifestTypes(t *testing.T, function string) []string {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	set, err := manifest.Load(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range set.Functions() {
		if fn.Name == function {
			types := slices.Clone(fn.Events.Types)
			slices.Sort(types)
			return types
		}
	}
	t.Fatalf("no function %s", function)
	return nil
}

// get serves GET target as p (nil: anonymous).
func get(t *testing.T, h http.Handler, p *principal.Principal, target string) (*httptest.ResponseRecorder, Page) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if p != nil {
		r = r.WithContext(principal.WithContext(r.Context(), *p))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/users/{id}/notifications", h)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	var page Page
	_ = json.Unmarshal(rec.Body.Bytes(), &page)
	return rec, page
}

func userP(id string) *principal.Principal {
	return &principal.Principal{Subject: id, Kind: principal.KindUser, Issuer: "shop-users"}
}

func TestList(t *testing.T) {
	st := newTestStore(t)
	h := List(st)
	user := uuid.NewString()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		n := Notification{ID: uuid.NewString(), UserID: user, Type: TypeOrderCreated, OrderID: uuid.NewString(), Message: "m", CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
		ids = append(ids, n.ID)
		if err := st.Add(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	slices.Reverse(ids) // newest first
	base := "/v1/users/" + user + "/notifications"

	var got []string
	target := base + "?limit=2"
	for pages := 0; ; pages++ {
		rec, page := get(t, h, userP(user), target)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		for _, n := range page.Items {
			got = append(got, n.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pages do not end")
		}
		target = base + "?limit=2&cursor=" + page.NextCursor
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v newest first", got, ids)
	}
	rec, _ := get(t, h, userP(user), base)
	var raw map[string][]map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &raw)
	if first := raw["items"][0]; first["createdAt"] != "2026-12-01T10:04:00Z" || first["type"] != TypeOrderCreated || first["userId"] != nil {
		t.Errorf("item JSON %v", first)
	}

	_, first := get(t, h, userP(user), base+"?limit=1")
	otherUser := uuid.NewString()
	for _, tt := range []struct {
		name   string
		p      *principal.Principal
		target string
		status int
	}{
		{"another user", userP(otherUser), base, http.StatusForbidden},
		{"a service, whatever its scopes", &principal.Principal{Subject: "orders", Kind: principal.KindService, Issuer: "shop-orders", Scopes: []string{"orders:read", "users:read"}}, base, http.StatusForbidden},
		{"anonymous", nil, base, http.StatusUnauthorized},
		{"not a user id", userP(user), "/v1/users/nope/notifications", http.StatusNotFound},
		{"limit out of range", userP(user), base + "?limit=101", http.StatusBadRequest},
		{"a cursor this API did not make", userP(user), base + "?cursor=abc", http.StatusBadRequest},
		{"another user's cursor", userP(otherUser), "/v1/users/" + otherUser + "/notifications?cursor=" + first.NextCursor, http.StatusBadRequest},
		{"no notifications yet", userP(otherUser), "/v1/users/" + otherUser + "/notifications", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, page := get(t, h, tt.p, tt.target)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", rec.Header().Get("Content-Type"))
			}
			if rec.Code == http.StatusOK && (page.Items == nil || len(page.Items) != 0) {
				t.Errorf("body %s, want an empty list", rec.Body)
			}
		})
	}
}

func TestListLinksNoEventLibraries(t *testing.T) {
	// The list function shares this package with the consumer; the
	// CloudEvents SDK and the schema library are the consumer's alone.
	testenv.ForbidDeps(t, "./list", "github.com/cloudevents", "github.com/json-iterator", "github.com/santhosh-tekuri/jsonschema")
}
