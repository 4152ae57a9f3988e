package users

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// RegisterRequest is the body of POST /v1/users.
type RegisterRequest struct {
	Email    string `json:"email" validate:"required,email,max=254"`
	Password string `json:"password" validate:"required,min=10,max=128"`
	Name     string `json:"name" validate:"required,min=1,max=100"`
}

// RegisterSecrets names RegisterRequest's secret fields as they appear in
// the JSON body: the idempotency middleware leaves them out of everything
// it stores (idempotency.Options.SecretFields).
func RegisterSecrets() []string { return []string{"password"} }

// Register handles POST /v1/users: 201 with the new user, 409 if the email
// is registered already.
func Register(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var req RegisterRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		hash, err := hashPassword(req.Password)
		if err != nil {
			return err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		u, err := st.Create(r.Context(), User{ID: id.String(), Email: req.Email, Name: req.Name}, hash)
		if err != nil {
			return errs.HTTP(err)
		}
		w.Header().Set("Location", "/v1/users/"+u.ID)
		httpapi.WriteVersioned(w, http.StatusCreated, u.Version, u)
		return nil
	})
}
