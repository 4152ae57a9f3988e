package servicetoken

import "strings"

// FromBearer extracts the token from an Authorization header value,
// "Bearer <token>" with the scheme in any case (RFC 9110 §11.1).
func FromBearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
