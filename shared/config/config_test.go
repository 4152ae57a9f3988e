package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
)

type dbConfig struct {
	Host string `env:"HOST,required"`
	Port int    `env:"PORT" envDefault:"5432" validate:"min=1,max=65535"`
}

type testConfig struct {
	Table    string        `env:"SHOP_TABLE,required"`
	Region   string        `env:"SHOP_REGION" envDefault:"eu-west-1"`
	Timeout  time.Duration `env:"SHOP_TIMEOUT" envDefault:"3s" validate:"gt=0,lte=30s"`
	LogLevel string        `env:"LOG_LEVEL" envDefault:"info" validate:"oneof=debug info warn error"`
	Retries  int           `env:"SHOP_RETRIES" envDefault:"2" validate:"min=0,max=5"`
	Secret   string        `env:"SHOP_SECRET" validate:"omitempty,min=16"`
	DB       dbConfig      `envPrefix:"SHOP_DB_"`
}

// setEnv sets every variable for the test only; an empty value is still set, which
// env treats differently from unset.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestLoad(t *testing.T) {
	valid := map[string]string{"SHOP_TABLE": "orders", "SHOP_DB_HOST": "db.local"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name       string
		env        map[string]string
		wantVars   []string // every variable the error must name, in order
		notInErr   []string
		checkCfg   func(t *testing.T, c testConfig)
		wantNotSet bool
	}{
		{
			name: "defaults",
			env:  valid,
			checkCfg: func(t *testing.T, c testConfig) {
				want := testConfig{Table: "orders", Region: "eu-west-1", Timeout: 3 * time.Second,
					LogLevel: "info", Retries: 2, DB: dbConfig{Host: "db.local", Port: 5432}}
				if c != want {
					t.Errorf("cfg = %+v, want %+v", c, want)
				}
			},
		},
		{
			name: "overrides",
			env:  with(map[string]string{"SHOP_TIMEOUT": "10s", "SHOP_DB_PORT": "6543", "LOG_LEVEL": "debug"}),
			checkCfg: func(t *testing.T, c testConfig) {
				if c.Timeout != 10*time.Second || c.DB.Port != 6543 || c.LogLevel != "debug" {
					t.Errorf("cfg = %+v", c)
				}
			},
		},
		{
			name:       "missing required",
			env:        map[string]string{},
			wantVars:   []string{"SHOP_TABLE", "SHOP_DB_HOST"},
			wantNotSet: true,
		},
		{
			name:       "every kind of problem at once",
			env:        map[string]string{"SHOP_TIMEOUT": "soon", "LOG_LEVEL": "loud", "SHOP_RETRIES": "9", "SHOP_SECRET": "hunter2", "SHOP_DB_PORT": "70000"},
			wantVars:   []string{"SHOP_TABLE", "SHOP_TIMEOUT", "SHOP_DB_HOST", "LOG_LEVEL", "SHOP_RETRIES", "SHOP_SECRET", "SHOP_DB_PORT"},
			notInErr:   []string{"hunter2", "soon", "loud"},
			wantNotSet: true,
		},
		{
			name:     "validation only",
			env:      with(map[string]string{"SHOP_TIMEOUT": "1m", "SHOP_RETRIES": "-1"}),
			wantVars: []string{"SHOP_TIMEOUT", "SHOP_RETRIES"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SHOP_TABLE", "SHOP_REGION", "SHOP_TIMEOUT", "LOG_LEVEL", "SHOP_RETRIES", "SHOP_SECRET", "SHOP_DB_HOST", "SHOP_DB_PORT"} {
				t.Setenv(k, "") // register for restore, then unset: required means "not set"
				unsetenv(t, k)
			}
			setEnv(t, tt.env)

			cfg, err := Load[testConfig]()
			if len(tt.wantVars) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				tt.checkCfg(t, cfg)
				return
			}
			var problems Problems
			if !errors.As(err, &problems) {
				t.Fatalf("Load error = %v (%T), want Problems", err, err)
			}
			var gotVars []string
			for _, p := range problems {
				gotVars = append(gotVars, p.Var)
			}
			if strings.Join(gotVars, ",") != strings.Join(tt.wantVars, ",") {
				t.Errorf("problems name %v, want %v (error: %v)", gotVars, tt.wantVars, err)
			}
			for _, s := range tt.notInErr {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks the value %q", err, s)
				}
			}
			var notSet env.VarIsNotSetError
			if errors.As(err, &notSet) != tt.wantNotSet {
				t.Errorf("errors.As(VarIsNotSetError) = %v, want %v", !tt.wantNotSet, tt.wantNotSet)
			}
		})
	}
}

func TestLoadMessages(t *testing.T) {
	t.Setenv("SHOP_TABLE", "orders")
	t.Setenv("SHOP_DB_HOST", "db")
	t.Setenv("LOG_LEVEL", "loud")
	t.Setenv("SHOP_TIMEOUT", "soon")
	_, err := Load[testConfig]()
	if err == nil {
		t.Fatal("Load succeeded with LOG_LEVEL=loud")
	}
	for _, want := range []string{
		"config: 2 problem(s)",
		"SHOP_TIMEOUT: not a valid time.Duration",
		"LOG_LEVEL: must be one of: debug, info, warn, error",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoadRejectsNonStruct(t *testing.T) {
	if _, err := Load[int](); err == nil {
		t.Fatal("Load[int] succeeded")
	}
}

// unsetenv removes k; the caller has already called t.Setenv(k, ...), which restores
// the original value when the test ends.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	if err := os.Unsetenv(k); err != nil {
		t.Fatalf("unsetenv %s: %v", k, err)
	}
}
