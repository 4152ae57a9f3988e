package orders

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/money"
)

// Users tells who a user is: the customer, ErrUnknownUser, or the error of
// a users API that could not say (client.ErrUnavailable...).
type Users interface {
	Customer(ctx context.Context, userID string) (Customer, error)
}

// Catalog reads products by id; ids it does not know are absent from the
// answer.
type Catalog interface {
	Products(ctx context.Context, ids []string) ([]Product, error)
}

// Product is what an order takes from the catalog.
type Product struct {
	ID    string      `json:"id"`
	SKU   string      `json:"sku"`
	Name  string      `json:"name"`
	Price money.Money `json:"price"`
}

// UsersAPI is Users over the users HTTP API (GET /v1/users/{id}, which
// needs a service token with users:read).
type UsersAPI struct{ Client *client.Client }

// Customer implements Users with the user's name and version.
func (u UsersAPI) Customer(ctx context.Context, userID string) (Customer, error) {
	var c Customer
	err := u.Client.GetJSON(ctx, "/v1/users/"+url.PathEscape(userID), &c)
	switch {
	case errors.Is(err, client.ErrNotFound):
		return Customer{}, ErrUnknownUser
	case err != nil:
		return Customer{}, err
	case c.Name == "" || c.Version < 1:
		return Customer{}, fmt.Errorf("the users API answered user %s without a name or version", userID)
	}
	return c, nil
}

// CatalogAPI is Catalog over the inventory HTTP API's batch read
// (GET /v1/products?ids=...: at most MaxItems ids, which is what an order
// may have).
type CatalogAPI struct{ Client *client.Client }

// Products implements Catalog.
func (c CatalogAPI) Products(ctx context.Context, ids []string) ([]Product, error) {
	var page struct {
		Items []Product `json:"items"`
	}
	q := url.Values{"ids": {strings.Join(ids, ",")}}
	if err := c.Client.GetJSON(ctx, "/v1/products?"+q.Encode(), &page); err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	return page.Items, nil
}
