package users

import (
	"context"
	"net/http"
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

	dynamostub.Bench(b, dynamostub.Request{PathID: u.ID, With: func(ctx context.Context) context.Context { return principal.WithContext(ctx, caller) }}, []dynamostub.Case{
		{Name: "get/bare", Target: "/v1/users/" + u.ID, Status: http.StatusOK, Want: `"email":"ada@example.com"`,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dynamostub.Bare(w, http.StatusOK, "2", u) })},
		{Name: "get/store", Target: "/v1/users/" + u.ID, Status: http.StatusOK, Want: `"email":"ada@example.com"`, Handler: Get(st)},
	})
}
