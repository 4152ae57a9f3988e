package users

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/store/dynamostub"
)

// BenchmarkHandlers is GET /v1/users/{id} (a user reading their own
// profile: the ownership check, one GetItem behind dynamostub) next to a
// bare net/http handler encoding the same user without storage.
func BenchmarkHandlers(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	u := User{ID: "0193a1e2-7b4c-7d2e-9f10-3c4d5e6f7a8b", Email: "ada@example.com", Name: "Ada Lovelace", Phone: "+441234567890",
		Preferences: Preferences{Locale: "en-GB", Currency: "GBP", MarketingEmails: true}, CreatedAt: now, UpdatedAt: now, Version: 2}
	item, err := attributevalue.MarshalMap(userItem{PK: "USER#" + u.ID, SK: skProfile, ID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone,
		Preferences: u.Preferences, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Version: u.Version})
	if err != nil {
		b.Fatal(err)
	}
	srv := dynamostub.New(b)
	srv.Answer("GetItem", `{"Item":`+dynamostub.ItemJSON(item)+`}`)
	st := NewStore(srv.Client(), "users")
	caller := principal.Principal{Subject: u.ID, Kind: principal.KindUser, Issuer: "shop-users"}

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"get/bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := json.Marshal(u)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", strconv.Quote("2"))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		})},
		{"get/store", Get(st)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/v1/users/"+u.ID, nil)
				r = r.WithContext(principal.WithContext(r.Context(), caller))
				r.SetPathValue("id", u.ID)
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"email":"ada@example.com"`) {
					b.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
