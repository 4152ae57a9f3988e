// Package config loads a function's settings from environment variables into a
// struct and checks them before the function serves anything, so that a
// misconfigured deployment fails at start with one message listing every problem
// instead of failing one request at a time.
//
//	cfg, err := config.Load[Config]()
//
// Fields use caarlos0/env tags for where a value comes from and validate tags
// (shared/tagcheck: go-playground/validator's syntax) for what they may be:
//
//	type Config struct {
//		Table   string        `env:"SHOP_TABLE,required"`
//		Timeout time.Duration `env:"SHOP_TIMEOUT" envDefault:"3s" validate:"gt=0,lte=30s"`
//	}
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/shop-serverless/shop/shared/tagcheck"
)

// Load fills a T from the environment and validates it. The error, if any, is
// Problems: every variable at fault, each once (missing and malformed ones first,
// then those that fail a validate rule, each group in field order). Values are never
// quoted in it, since a malformed variable may well be a secret. It wraps the
// underlying errors, so errors.As finds env.VarIsNotSetError and friends.
func Load[T any]() (T, error) {
	var cfg T
	keys := envKeys(reflect.TypeOf(cfg))
	var problems Problems

	parseErr := env.Parse(&cfg)
	if parseErr != nil {
		var agg env.AggregateError
		if !errors.As(parseErr, &agg) {
			agg.Errors = []error{parseErr}
		}
		for _, err := range agg.Errors {
			problems = append(problems, envProblem(err, keys))
		}
	}

	// Validate even after parse errors, so one start reports everything; a variable
	// that already has a parse problem is not reported twice.
	reported := map[string]bool{}
	for _, p := range problems {
		reported[p.Var] = true
	}
	for _, p := range validate(cfg, keys) {
		if !reported[p.Var] {
			problems = append(problems, p)
		}
	}

	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// Problem is one variable's fault. Var is the environment variable, or the Go field
// path where a field has no variable of its own.
type Problem struct {
	Var     string
	Message string
	Err     error
}

func (p Problem) Error() string { return p.Var + ": " + p.Message }
func (p Problem) Unwrap() error { return p.Err }

// Problems is the error Load returns: every problem found, in field order.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("config: %d problem(s): %s", len(ps), strings.Join(msgs, "; "))
}

// Unwrap lets errors.Is and errors.As look at each problem's cause.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// fieldKeys maps a Go field path ("DB.Host") to its environment variable
// ("SHOP_DB_HOST"), and a Go field name to every variable declared by fields of that
// name, because env's ParseError names only the field.
type fieldKeys struct {
	byPath map[string]string
	byName map[string][]string
}

// envKeys walks t the way env.Parse does: env tags name variables, envPrefix tags
// prefix the variables of nested structs.
func envKeys(t reflect.Type) fieldKeys {
	keys := fieldKeys{byPath: map[string]string{}, byName: map[string][]string{}}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Struct {
		walkEnvKeys(t, "", "", keys, 0)
	}
	return keys
}

func walkEnvKeys(t reflect.Type, path, prefix string, keys fieldKeys, depth int) {
	if depth > 16 { // a self-referencing pointer type would otherwise never end
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "-" {
			continue
		}
		fieldPath := f.Name
		if path != "" {
			fieldPath = path + "." + f.Name
		}
		if name != "" {
			keys.byPath[fieldPath] = prefix + name
			keys.byName[f.Name] = append(keys.byName[f.Name], prefix+name)
		}
		inner := f.Type
		if inner.Kind() == reflect.Pointer {
			inner = inner.Elem()
		}
		if inner.Kind() == reflect.Struct && name == "" {
			walkEnvKeys(inner, fieldPath, prefix+f.Tag.Get("envPrefix"), keys, depth+1)
		}
	}
}

func envProblem(err error, keys fieldKeys) Problem {
	var (
		notSet   env.VarIsNotSetError
		empty    env.EmptyVarError
		parse    env.ParseError
		file     env.LoadFileContentError
		noParser env.NoParserError
	)
	switch {
	case errors.As(err, &notSet):
		return Problem{Var: notSet.Key, Message: "required but not set", Err: err}
	case errors.As(err, &empty):
		return Problem{Var: empty.Key, Message: "must not be empty", Err: err}
	case errors.As(err, &parse):
		// The parser's own message usually quotes the value; name the type instead.
		return Problem{Var: varForField(parse.Name, keys), Message: fmt.Sprintf("not a valid %s", parse.Type), Err: err}
	case errors.As(err, &file):
		return Problem{Var: file.Key, Message: "cannot read the file it names", Err: err}
	case errors.As(err, &noParser):
		return Problem{Var: varForField(noParser.Name, keys), Message: fmt.Sprintf("type %s cannot be read from the environment", noParser.Type), Err: err}
	default:
		// NotStructPtrError, NoSupportedTagOptionError: a mistake in the Config type.
		return Problem{Var: "(config type)", Message: err.Error(), Err: err}
	}
}

func varForField(field string, keys fieldKeys) string {
	if vars := keys.byName[field]; len(vars) > 0 {
		return strings.Join(vars, " or ")
	}
	return field
}

func validate(cfg any, keys fieldKeys) []Problem {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	// Load runs once per process, at start, so a checker built here costs less
	// than keeping one alive for the life of the process. Paths are Go field paths
	// ("DB.Host"), as keys.byPath has them.
	failures := tagcheck.New(nil).Struct(cfg)
	problems := make([]Problem, 0, len(failures))
	for _, f := range failures {
		name, ok := keys.byPath[f.Path]
		if !ok {
			name = f.Path
		}
		problems = append(problems, Problem{Var: name, Message: ruleMessage(f), Err: f})
	}
	return problems
}

// ruleMessage says which rule failed without quoting the value, which may be secret.
func ruleMessage(f tagcheck.Failure) string {
	switch f.Tag {
	case "required":
		return "required but empty"
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(f.Param), ", ")
	case "url", "http_url":
		return "must be a URL"
	}
	if f.Param != "" {
		return fmt.Sprintf("fails rule %s=%s", f.Tag, f.Param)
	}
	return "fails rule " + f.Tag
}

// Function is the wiring the platform gives every function (see
// manifest.Environment): its service, its name and its service's table.
type Function struct {
	Prefix   string `env:"SHOP_PREFIX,required"`
	Service  string `env:"SHOP_SERVICE,required"`
	Function string `env:"SHOP_FUNCTION,required"`
	Table    string `env:"SHOP_TABLE,required"`
	// Auth is an http function's declared authorization ("none", "user",
	// "scope:<name>"); empty for other kinds.
	Auth string `env:"SHOP_AUTH"`
}
