// Package users is the users service: accounts with a unique email, profiles
// and preferences. Each operation is one function under functions/users/<op>
// whose handler is in this package, one file per operation (register.go,
// get.go, update.go, login.go); the DynamoDB code is in store.go, the
// events it publishes (through its outbox) in published.go, and the domain
// errors, with their HTTP statuses and Step Functions names, in errors.go.
package users

import "time"

// ScopeRead lets a service read any user (orders checks its customers).
const ScopeRead = "users:read"

// User is the public view of an account. The password hash is kept by the
// store and never leaves it.
type User struct {
	ID          string      `json:"id"`
	Email       string      `json:"email"`
	Name        string      `json:"name"`
	Phone       string      `json:"phone,omitempty"`
	Preferences Preferences `json:"preferences"`
	CreatedAt   time.Time   `json:"createdAt"`
	UpdatedAt   time.Time   `json:"updatedAt"`
	Version     int64       `json:"version"`
}

// Preferences are the user's settings.
type Preferences struct {
	Locale          string `json:"locale,omitempty" dynamodbav:"locale,omitempty"`
	Currency        string `json:"currency,omitempty" dynamodbav:"currency,omitempty"`
	MarketingEmails bool   `json:"marketingEmails" dynamodbav:"marketingEmails"`
}

// Patch is a partial update: nil fields are left as they are.
type Patch struct {
	Name        *string           `json:"name" validate:"omitempty,min=1,max=100"`
	Phone       *string           `json:"phone" validate:"omitempty,e164"`
	Preferences *PreferencesPatch `json:"preferences"`
}

// PreferencesPatch is a partial update of Preferences.
type PreferencesPatch struct {
	Locale          *string `json:"locale" validate:"omitempty,bcp47_language_tag"`
	Currency        *string `json:"currency" validate:"omitempty,iso4217"`
	MarketingEmails *bool   `json:"marketingEmails"`
}

// Empty reports a patch that changes nothing.
func (p Patch) Empty() bool {
	return p.Name == nil && p.Phone == nil &&
		(p.Preferences == nil || (p.Preferences.Locale == nil && p.Preferences.Currency == nil && p.Preferences.MarketingEmails == nil))
}
