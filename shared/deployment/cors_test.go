package deployment

import (
	"slices"
	"strings"
	"testing"
)

// The model's CORS configuration allows exactly the routes' methods and
// holds no origin: the targets add those.
func TestCORSAllowsTheRoutesMethods(t *testing.T) {
	d, err := Build(load(t), Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	c := d.API.CORS
	if c == nil {
		t.Fatal("the API has no CORS configuration")
	}
	var want []string
	for _, fn := range d.Routes() {
		if !slices.Contains(want, fn.Route.Method) {
			want = append(want, fn.Route.Method)
		}
	}
	slices.Sort(want)
	if !slices.Equal(c.AllowMethods, want) {
		t.Errorf("allowMethods %v, want the routes' methods %v", c.AllowMethods, want)
	}
	if !slices.Contains(c.AllowMethods, "GET") || !slices.Contains(c.AllowMethods, "POST") {
		t.Errorf("allowMethods %v: the API has GET and POST routes", c.AllowMethods)
	}
	for _, h := range []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "X-Correlation-Id"} {
		if !slices.Contains(c.AllowHeaders, h) {
			t.Errorf("allowHeaders %v lacks %s", c.AllowHeaders, h)
		}
	}
	for _, h := range []string{"ETag", "Location", "Retry-After", "X-Correlation-Id"} {
		if !slices.Contains(c.ExposeHeaders, h) {
			t.Errorf("exposeHeaders %v lacks %s", c.ExposeHeaders, h)
		}
	}
	if c.AllowCredentials {
		t.Error("allowCredentials: tokens are bearer headers, no browser credentials are needed")
	}
	if c.MaxAgeSeconds <= 0 || c.MaxAgeSeconds > 86400 {
		t.Errorf("maxAgeSeconds %d: API Gateway takes 0 to 86400", c.MaxAgeSeconds)
	}
	text, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(text)), "alloworigins") {
		t.Error("the model names allowed origins: they are each target's setting")
	}
}

func TestValidateOrigins(t *testing.T) {
	for _, ok := range [][]string{
		nil, {}, {"*"}, {"http://localhost:3000"}, {"https://shop.example.com", "https://admin.example.com:8443"}, {"http://127.0.0.1:5173"},
	} {
		if err := ValidateOrigins(ok); err != nil {
			t.Errorf("ValidateOrigins(%q): %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		{"*", "https://shop.example.com"}, {"https://shop.example.com/"}, {"https://shop.example.com/app"},
		{"shop.example.com"}, {"https://Shop.example.com"}, {"ftp://shop.example.com"}, {""}, {"https://*.example.com"},
		{"https://shop.example.com:"}, {"https://shop..example.com"},
	} {
		if err := ValidateOrigins(bad); err == nil {
			t.Errorf("ValidateOrigins(%q) accepted it", bad)
		}
	}
}

func TestLocalCORSOrigins(t *testing.T) {
	for _, c := range []struct {
		env  string
		want []string
		err  bool
	}{
		{"", []string{DefaultLocalCORSOrigins}, false},
		{"  ", []string{DefaultLocalCORSOrigins}, false},
		{"none", []string{}, false},
		{"*", []string{"*"}, false},
		{"http://localhost:5173, https://shop.example.com", []string{"http://localhost:5173", "https://shop.example.com"}, false},
		{",", nil, true},
		{"https://shop.example.com/", nil, true},
		{"*,http://localhost:3000", nil, true},
	} {
		got, err := LocalCORSOrigins(func(k string) string {
			if k != EnvCORSAllowedOrigins {
				t.Fatalf("read %s", k)
			}
			return c.env
		})
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("%s=%q: got %q, %v; want %q (error %v)", EnvCORSAllowedOrigins, c.env, got, err, c.want, c.err)
		}
	}
}
