package users

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// ScopeRead lets a service read any user (orders checks its customers).
const ScopeRead = "users:read"

// RegisterRequest is the body of POST /v1/users.
type RegisterRequest struct {
	Email    string `json:"email" validate:"required,email,max=254"`
	Password string `json:"password" validate:"required,min=10,max=128"`
	Name     string `json:"name" validate:"required,min=1,max=100"`
}

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
			return mapError(err)
		}
		w.Header().Set("Location", "/v1/users/"+u.ID)
		httpapi.WriteVersioned(w, http.StatusCreated, u.Version, u)
		return nil
	})
}

// Get handles GET /v1/users/{id}.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		// A user reads only their own profile; services (orders validating a
		// customer) need the users:read scope.
		if err := auth.SelfOrScope(r.Context(), id, ScopeRead); err != nil {
			return err
		}
		u, err := st.Get(r.Context(), id)
		if err != nil {
			return mapError(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, u.Version, u)
		return nil
	})
}

// Update handles PATCH /v1/users/{id}. The client must send the version it
// read in If-Match (428 without it, 412 when it is stale), so two editors
// cannot silently overwrite each other.
func Update(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		// Only the user changes their own profile.
		if err := auth.SelfOrScope(r.Context(), id, ""); err != nil {
			return err
		}
		version, err := httpapi.IfMatchVersion(r)
		if err != nil {
			return err
		}
		var p Patch
		if err := httpapi.Decode(r, &p); err != nil {
			return err
		}
		if p.Empty() {
			return httpapi.Errorf(http.StatusBadRequest, "the patch changes nothing: send name, phone or preferences")
		}
		u, err := st.Update(r.Context(), id, version, p)
		if err != nil {
			return mapError(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, u.Version, u)
		return nil
	})
}

func mapError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return &httpapi.Error{Status: http.StatusNotFound, Detail: "user not found", Err: err}
	case errors.Is(err, ErrEmailTaken):
		return &httpapi.Error{Status: http.StatusConflict, Detail: "an account with this email exists already", Err: err}
	case errors.Is(err, ErrVersionMismatch):
		return &httpapi.Error{Status: http.StatusPreconditionFailed, Detail: "the user changed since you read it: fetch it again and retry with the new ETag", Err: err}
	}
	return err
}
