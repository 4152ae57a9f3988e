package provider

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// APIKey returns the key callers must present; it reads the secret on first
// use and caches it (see SecretAPIKey).
type APIKey func(ctx context.Context) (string, error)

// Options are the simulator's knobs; tests shorten Hang.
type Options struct {
	Hang time.Duration // how late tok_timeout answers (DefaultHang when 0)
}

const maxBodyBytes = 16 << 10

// Charges handles POST /provider/v1/charges.
func Charges(st *Store, key APIKey, opts Options) http.Handler {
	hang := opts.Hang
	if hang == 0 {
		hang = DefaultHang
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !authorized(w, r, key) {
			return
		}
		idemKey := r.Header.Get(httpapi.HeaderIdempotencyKey)
		var req ChargeRequest
		if !decode(w, r, &req) {
			return
		}
		switch {
		case idemKey == "" || len(idemKey) > 255:
			writeError(w, http.StatusBadRequest, "invalid_request_error", "idempotency_key_required")
			return
		case req.Amount <= 0 || len(req.Currency) != 3 || req.Reference == "" || len(req.Reference) > 255:
			writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid")
			return
		case !knownToken(req.Source):
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_source")
			return
		}

		rec, err := st.countAttempt(ctx, req)
		if err != nil {
			internal(w, r, err)
			return
		}
		if rec.Status == "" {
			// Undecided: the source says what happens. The charge's own
			// source is used, not this request's: one reference, one card.
			switch rec.Source {
			case TokenError:
				writeError(w, http.StatusInternalServerError, "api_error", "processing_error")
				return
			case TokenFlaky:
				n, err := st.countKeyAttempt(ctx, idemKey)
				if err != nil {
					internal(w, r, err)
					return
				}
				if n <= FlakyFailures {
					writeError(w, http.StatusServiceUnavailable, "api_error", "temporarily_unavailable")
					return
				}
			}
			status, id := chargeSucceeded, newID("ch_")
			if rec.Source == TokenDeclined {
				status, id = chargeDeclined, ""
			}
			if rec, err = st.decide(ctx, req.Reference, status, id); err != nil {
				internal(w, r, err)
				return
			}
		}
		if rec.Source == TokenTimeout {
			// Charged, but the answer comes too late for the caller, on every
			// attempt: only a refund by reference can find this charge.
			select {
			case <-ctx.Done():
				return
			case <-time.After(hang):
			}
		}
		if rec.Status == chargeDeclined {
			writeError(w, http.StatusPaymentRequired, "card_error", "card_declined")
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, Charge{ID: rec.ChargeID, Status: chargeSucceeded, Amount: rec.Amount, Currency: rec.Currency, Reference: rec.Reference})
	})
}

// Refunds handles POST /provider/v1/refunds.
func Refunds(st *Store, key APIKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r, key) {
			return
		}
		var req RefundRequest
		if !decode(w, r, &req) {
			return
		}
		if r.Header.Get(httpapi.HeaderIdempotencyKey) == "" || req.Reference == "" || len(req.Reference) > 255 || req.Amount <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid")
			return
		}
		rec, err := st.refund(r.Context(), req.Reference, req.Amount, newID("re_"))
		switch {
		case errors.Is(err, errNoCharge):
			writeError(w, http.StatusNotFound, "invalid_request_error", "charge_not_found")
			return
		case err != nil:
			internal(w, r, err)
			return
		case rec.RefundID == "":
			writeError(w, http.StatusBadRequest, "invalid_request_error", "amount_too_large")
			return
		}
		// This refund, or the one made before it: there is only ever one.
		httpapi.WriteJSON(w, http.StatusOK, Refund{ID: rec.RefundID, Status: chargeSucceeded, Amount: rec.RefundedAmount, Reference: rec.Reference})
	})
}

// authorized checks the bearer API key, answering 401 when it is wrong and
// 500 when the key cannot be read.
func authorized(w http.ResponseWriter, r *http.Request, key APIKey) bool {
	want, err := key(r.Context())
	if err != nil {
		internal(w, r, err)
		return false
	}
	got, ok := servicetoken.FromBearer(r.Header.Get("Authorization"))
	if !ok || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid_api_key")
		return false
	}
	return true
}

func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(body, dst)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, typ, code string) {
	httpapi.WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Type: typ, Code: code}})
}

func internal(w http.ResponseWriter, r *http.Request, err error) {
	log.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "provider: request failed", slog.String("error", err.Error()))
	writeError(w, http.StatusInternalServerError, "api_error", "internal_error")
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}
