package jwksstore

import (
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/tokentest"
)

// Fixtures: two issuers, each with a key (the same as servicetoken's tests).
const (
	usersIssuer  = tokentest.UsersIssuer
	ordersIssuer = tokentest.OrdersIssuer
	usersKID     = tokentest.UsersKID
	ordersKID    = tokentest.OrdersKID
	testParam    = "/shop/jwks"
)

// Shared fixtures (internal/tokentest, internal/awstest).
var (
	testKey = tokentest.Key
	jwksOf  = awstest.JWKS
)
