package deployment

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// CORS is the HTTP API's CORS configuration (API Gateway answers the
// browsers' preflights and adds the headers to every response itself) but
// for the origins it allows: those are each target's setting, since an
// operator's web app lives at an address the manifests cannot know
// (Terraform's variable cors_allowed_origins; the local deployer's
// EnvCORSAllowedOrigins). No origins means no CORS configuration at all.
type CORS struct {
	// AllowMethods are the routes' methods, each once, sorted.
	AllowMethods []string `json:"allowMethods"`
	// AllowHeaders are the request headers a browser may send: the bearer
	// token, the body's type, and the API's own request headers.
	AllowHeaders []string `json:"allowHeaders"`
	// ExposeHeaders are the response headers a browser's script may read
	// besides the safelisted ones.
	ExposeHeaders []string `json:"exposeHeaders"`
	// MaxAgeSeconds is how long a browser may cache a preflight's answer.
	MaxAgeSeconds int `json:"maxAgeSeconds"`
	// AllowCredentials is false: tokens travel in the Authorization header,
	// which a script sets itself, never in cookies, so no browser needs to
	// send credentials of its own.
	AllowCredentials bool `json:"allowCredentials"`
}

// CORSAllowHeaders are the request headers a browser's script may set on a
// call to the API.
var CORSAllowHeaders = []string{
	"Authorization", "Content-Type", httpapi.HeaderIdempotencyKey,
	"If-Match", "If-None-Match", httpapi.HeaderCorrelationID,
}

// CORSExposeHeaders are the response headers a browser's script may read:
// the version a conditional request needs, where a created resource is, when
// to retry, and the id that ties a request to the logs.
var CORSExposeHeaders = []string{"ETag", "Location", "Retry-After", httpapi.HeaderCorrelationID}

// CORSMaxAge caches a preflight's answer for an hour (Chromium caps it at
// two): a page calling the API pays one preflight per method and headers an
// hour, and a changed configuration reaches every browser within the hour.
const CORSMaxAge = 3600

// cors is the model's CORS configuration for the routes of fns.
func cors(fns []Function) *CORS {
	var methods []string
	for _, fn := range fns {
		if fn.Route != nil {
			methods = append(methods, fn.Route.Method)
		}
	}
	slices.Sort(methods)
	return &CORS{
		AllowMethods:  slices.Compact(methods),
		AllowHeaders:  slices.Clone(CORSAllowHeaders),
		ExposeHeaders: slices.Clone(CORSExposeHeaders),
		MaxAgeSeconds: CORSMaxAge,
	}
}

// OriginPattern is what an allowed origin looks like: a browser's Origin
// header, scheme://host[:port] in lower case (browsers serialise it so),
// with no path and no trailing slash. "*" alone allows every origin.
// Terraform's cors_allowed_origins validates with this very pattern
// (infra/terraform_test.go checks that it is spelled there); it has no
// backslash, so the HCL string is the same text.
const OriginPattern = `^https?://[a-z0-9-]+([.][a-z0-9-]+)*(:[0-9]{1,5})?$`

var originRE = regexp.MustCompile(OriginPattern)

// AnyOrigin allows every origin; it must stand alone.
const AnyOrigin = "*"

// ValidateOrigins says whether origins is a valid setting of allowed
// origins: empty (CORS off), "*" alone, or origins that each match
// OriginPattern.
func ValidateOrigins(origins []string) error {
	if len(origins) == 1 && origins[0] == AnyOrigin {
		return nil
	}
	for _, o := range origins {
		if !originRE.MatchString(o) {
			return fmt.Errorf("allowed origin %q: want scheme://host[:port] in lower case (e.g. http://localhost:3000), or %q alone", o, AnyOrigin)
		}
	}
	return nil
}

// The local deployer's setting of allowed origins, which the end-to-end
// suite and the apply test read the same way.
const (
	// EnvCORSAllowedOrigins lists the origins, separated by commas; "none"
	// turns CORS off. Unset or empty means DefaultLocalCORSOrigins.
	EnvCORSAllowedOrigins = "SHOP_CORS_ALLOWED_ORIGINS"
	// DefaultLocalCORSOrigins is a web app's development server on the
	// same machine (the port create-react-app, Next.js and others use).
	DefaultLocalCORSOrigins = "http://localhost:3000"
	// CORSOff is the setting's value that turns CORS off.
	CORSOff = "none"
)

// LocalCORSOrigins reads the local setting through getenv (os.Getenv):
// the origins, none when CORS is off, or an error naming the bad one.
func LocalCORSOrigins(getenv func(string) string) ([]string, error) {
	v := strings.TrimSpace(getenv(EnvCORSAllowedOrigins))
	switch v {
	case "":
		v = DefaultLocalCORSOrigins
	case CORSOff:
		return []string{}, nil
	}
	var origins []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	if len(origins) == 0 {
		return nil, fmt.Errorf("%s=%q names no origin (%q turns CORS off)", EnvCORSAllowedOrigins, v, CORSOff)
	}
	if err := ValidateOrigins(origins); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCORSAllowedOrigins, err)
	}
	return origins, nil
}
