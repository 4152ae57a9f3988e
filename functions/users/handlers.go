package users

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

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
		writeUser(w, http.StatusCreated, u)
		return nil
	})
}

// Get handles GET /v1/users/{id}.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
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
		writeUser(w, http.StatusOK, u)
		return nil
	})
}

// Update handles PATCH /v1/users/{id}. The client must send the version it
// read in If-Match (428 without it, 412 when it is stale), so two editors
// cannot silently overwrite each other.
func Update(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		// Only the user changes their own profile.
		if err := auth.SelfOrScope(r.Context(), id, ""); err != nil {
			return err
		}
		version, err := ifMatchVersion(r)
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
		writeUser(w, http.StatusOK, u)
		return nil
	})
}

func writeUser(w http.ResponseWriter, status int, u User) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(u.Version, 10)))
	httpapi.WriteJSON(w, status, u)
}

func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := uuid.Validate(id); err != nil || len(id) != 36 || strings.ToLower(id) != id {
		return "", httpapi.Errorf(http.StatusNotFound, "user %q not found", id)
	}
	return id, nil
}

// ifMatchVersion reads the version from If-Match, accepting the ETag we send
// ("3") and a bare number (3).
func ifMatchVersion(r *http.Request) (int64, error) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" {
		return 0, httpapi.Errorf(http.StatusPreconditionRequired, "send If-Match with the version you read (the ETag of GET /v1/users/{id})")
	}
	v, err := strconv.ParseInt(strings.Trim(raw, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, httpapi.Errorf(http.StatusBadRequest, "If-Match must be a version number such as \"3\"")
	}
	return v, nil
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
