// Package tagcheck checks `validate:"..."` struct tags: the subset of
// go-playground/validator's syntax this repository uses, with the validator's
// semantics (v10.30.6, WithRequiredStructEnabled), at no cost at program start.
// The validator's package init alone took 0.5-0.8 ms and 430 kB of every cold start
// (country, language and postcode tables, regexps); here nothing is built before
// first use, and the one costly piece, the e-mail regexp, only when an e-mail is
// checked.
//
//	c := tagcheck.New(nil) // or a func naming fields as the client sees them
//	for _, f := range c.Struct(&req) {
//		fmt.Println(f.Path, f.Tag, f.Param) // items[1].quantity gte 1
//	}
//
// Tags, separated by commas, run in order and stop at the first failure of a field:
//
//	required     not the zero value: non-nil pointer, slice, map or interface,
//	             non-empty string, non-zero number, non-zero struct
//	omitempty    skip the rest when the value is zero (a nil pointer; a non-nil
//	             pointer is dereferenced and checked, even if it points to a zero)
//	min, gte     >= param; max, lte <= param; gt >; lt <; len ==. Numbers compare
//	             by value (a time.Duration's param may be "30s"), strings by rune
//	             count, slices, arrays and maps by length; on a time.Time gt/gte/lt/lte
//	             (and min/max) compare with now and ignore the param
//	oneof        one of the space-separated params ('quoted words' may hold spaces)
//	dive         the tags after it apply to each element of a slice, array or map
//	email e164 bcp47_language_tag iso4217 http_url url uuid printascii
//	excludesall  none of the param's characters (0x2C is a comma, 0x7C a pipe)
//
// Nested structs (not time.Time) are checked field by field after their own tags
// pass, through pointers and interfaces; slices and maps only with dive. Unexported
// fields are skipped (embedded ones are not), and so is a field tagged "-".
//
// A tag this package does not know, a param it cannot read or a tag on a kind it
// does not apply to is a programming error: it panics, naming the tag and the type.
// The validator's other features (or-lists with |, keys/endkeys, cross-field tags,
// aliases, struct-level functions) are not supported.
package tagcheck

import (
	"cmp"
	"fmt"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/shop-serverless/shop/shared/money"
)

// Failure is one field that failed one tag.
type Failure struct {
	// Path names the field from the checked struct down, with the names the
	// Checker's FieldNameFunc gives: "items[1].quantity", "DB.Port".
	Path string
	// Tag and Param are the failed tag: "max" and "50"; Param is "" for a tag
	// without one.
	Tag   string
	Param string
	// Kind and Type are the field's after following pointers and interfaces (int64,
	// not *int64), except for a nil pointer or interface, which is what they name.
	Kind reflect.Kind
	Type reflect.Type
}

// Error makes a Failure usable as an error cause; it never quotes the value.
func (f Failure) Error() string {
	if f.Param != "" {
		return fmt.Sprintf("%s: failed %s=%s", f.Path, f.Tag, f.Param)
	}
	return fmt.Sprintf("%s: failed %s", f.Path, f.Tag)
}

// FieldNameFunc names a struct field in failure paths. An empty name puts the
// field's own fields at its parent's level (for an embedded struct, as
// encoding/json does).
type FieldNameFunc func(reflect.StructField) string

// Checker checks values' tags, caching what it learns of each struct type. It is
// safe for concurrent use; share one.
type Checker struct {
	name  FieldNameFunc
	types sync.Map // reflect.Type -> []field
}

// New returns a Checker naming fields with name, or with their Go names if name
// is nil.
func New(name FieldNameFunc) *Checker {
	if name == nil {
		name = func(f reflect.StructField) string { return f.Name }
	}
	return &Checker{name: name}
}

// Struct checks v, a struct or a pointer to one, and returns every failure in field
// order, or nil. Anything else, a nil pointer and a time.Time have nothing to check.
// v must not be cyclic.
func (c *Checker) Struct(v any) []Failure {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || rv.Type().ConvertibleTo(timeType) {
		return nil
	}
	var w walk
	c.structFields(&w, rv, "")
	return w.failures
}

type walk struct {
	failures []Failure
}

func (w *walk) fail(path string, r rule, v reflect.Value) {
	var typ reflect.Type
	if v.IsValid() {
		typ = v.Type()
	}
	w.failures = append(w.failures, Failure{Path: path, Tag: r.name, Param: r.param, Kind: v.Kind(), Type: typ})
}

// field is one struct field worth visiting: it has tags, or may hold a struct.
type field struct {
	index int
	name  string
	rules []rule
}

var timeType = reflect.TypeFor[time.Time]()

func (c *Checker) fields(t reflect.Type) []field {
	if fs, ok := c.types.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		tag := sf.Tag.Get("validate")
		if tag == "-" {
			continue
		}
		rules, err := parse(tag)
		if err != nil {
			panic(fmt.Sprintf("tagcheck: field %s of %s: %v", sf.Name, t, err))
		}
		if len(rules) == 0 && !mayHoldStruct(sf.Type) {
			continue
		}
		fs = append(fs, field{index: i, name: c.name(sf), rules: rules})
	}
	c.types.Store(t, fs)
	return fs
}

// mayHoldStruct reports whether an untagged field of type t may lead to tags.
func mayHoldStruct(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Struct:
		return !t.ConvertibleTo(timeType)
	}
	return false
}

func (c *Checker) structFields(w *walk, v reflect.Value, path string) {
	for _, f := range c.fields(v.Type()) {
		c.value(w, v.Field(f.index), path, f.name, f.rules)
	}
}

func join(parent, name string) string {
	switch {
	case parent == "":
		return name
	case name == "":
		return parent
	default:
		return parent + "." + name
	}
}

// value runs rules on v, the field name of parent, then descends into v if it is a
// struct. The path is joined only when needed: most fields pass and hold no struct.
func (c *Checker) value(w *walk, v reflect.Value, parent, name string, rules []rule) {
	viaPointer := false
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			// As the validator: nil passes with no tags or omitempty first, and
			// otherwise fails the first tag.
			if len(rules) > 0 && rules[0].op != opOmitempty {
				w.fail(join(parent, name), rules[0], v)
			}
			return
		}
		viaPointer = true
		v = v.Elem()
	}
	for i, r := range rules {
		switch r.op {
		case opOmitempty:
			if !hasValue(v, viaPointer) {
				return
			}
			continue
		case opDive:
			c.dive(w, v, join(parent, name), rules[i+1:], r)
			return
		}
		if !r.check(v, viaPointer) {
			w.fail(join(parent, name), r, v)
			return
		}
	}
	if v.Kind() == reflect.Struct && !v.Type().ConvertibleTo(timeType) {
		c.structFields(w, v, join(parent, name))
	}
}

func (c *Checker) dive(w *walk, v reflect.Value, path string, rules []rule, r rule) {
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			c.value(w, v.Index(i), "", path+"["+strconv.Itoa(i)+"]", rules)
		}
	case reflect.Map:
		// Sorted, unlike the validator's, so that the same value always fails the
		// same way.
		keys := v.MapKeys()
		names := make([]string, len(keys))
		order := make([]int, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprintf("%v", k)
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(names[a], names[b]) })
		for _, i := range order {
			c.value(w, v.MapIndex(keys[i]), "", path+"["+names[i]+"]", rules)
		}
	default:
		badType(r, v)
	}
}

func badType(r rule, v reflect.Value) {
	panic(fmt.Sprintf("tagcheck: tag %q does not apply to type %s", r.name, v.Type()))
}

// hasValue is the validator's: a nil-able kind is set when non-nil, anything reached
// through a non-nil pointer is set, and any other value when it is not zero.
func hasValue(v reflect.Value, viaPointer bool) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func:
		return !v.IsNil()
	}
	return viaPointer || !v.IsZero()
}

type op uint8

const (
	opOmitempty op = iota + 1
	opDive
	opRequired
	opMin // same as gte
	opMax // same as lte
	opLen
	opGt
	opGte
	opLt
	opLte
	opOneof
	opEmail
	opE164
	opBCP47
	opISO4217
	opHTTPURL
	opURL
	opUUID
	opPrintASCII
	opExcludesAll
)

// lookup maps a tag name to its op: a switch, so nothing is built at start.
func lookup(name string) (op, bool) {
	switch name {
	case "omitempty":
		return opOmitempty, true
	case "dive":
		return opDive, true
	case "required":
		return opRequired, true
	case "min":
		return opMin, true
	case "max":
		return opMax, true
	case "len":
		return opLen, true
	case "gt":
		return opGt, true
	case "gte":
		return opGte, true
	case "lt":
		return opLt, true
	case "lte":
		return opLte, true
	case "oneof":
		return opOneof, true
	case "email":
		return opEmail, true
	case "e164":
		return opE164, true
	case "bcp47_language_tag":
		return opBCP47, true
	case "iso4217":
		return opISO4217, true
	case "http_url":
		return opHTTPURL, true
	case "url":
		return opURL, true
	case "uuid":
		return opUUID, true
	case "printascii":
		return opPrintASCII, true
	case "excludesall":
		return opExcludesAll, true
	}
	return 0, false
}

// Supported reports whether name is a tag this package checks.
func Supported(name string) bool {
	_, ok := lookup(name)
	return ok
}

type rule struct {
	op    op
	name  string
	param string
	words []string // oneof's
}

// parse reads a validate tag. Params are checked against the field's kind when
// the field is checked, as the validator does.
func parse(tag string) ([]rule, error) {
	if tag == "" {
		return nil, nil
	}
	parts := strings.Split(tag, ",")
	rules := make([]rule, 0, len(parts))
	for _, p := range parts {
		name, param, hasParam := strings.Cut(p, "=")
		if name == "" {
			return nil, fmt.Errorf("empty tag in %q", tag)
		}
		o, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("unknown validate tag %q in %q", name, tag)
		}
		if strings.Contains(p, "|") {
			return nil, fmt.Errorf("or-lists (|) are not supported: %q", p)
		}
		r := rule{op: o, name: name}
		if hasParam {
			r.param = strings.ReplaceAll(strings.ReplaceAll(param, "0x2C", ","), "0x7C", "|")
		}
		if o == opOneof {
			r.words = splitWords(r.param)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// splitWords splits oneof's param as the validator does (`'[^']*'|\S+`, quotes
// removed).
func splitWords(s string) []string {
	var words []string
	for {
		s = strings.TrimLeft(s, " \t\n\v\f\r")
		if s == "" {
			return words
		}
		if s[0] == '\'' {
			if end := strings.IndexByte(s[1:], '\''); end >= 0 {
				words = append(words, s[1:1+end])
				s = s[2+end:]
				continue
			}
		}
		end := strings.IndexAny(s, " \t\n\v\f\r")
		if end < 0 {
			end = len(s)
		}
		words = append(words, strings.ReplaceAll(s[:end], "'", ""))
		s = s[end:]
	}
}

func (r rule) check(v reflect.Value, viaPointer bool) bool {
	switch r.op {
	case opRequired:
		return hasValue(v, viaPointer)
	case opMin, opGte:
		return r.compare(v) >= 0
	case opMax, opLte:
		return r.compare(v) <= 0
	case opGt:
		return r.compare(v) > 0
	case opLt:
		return r.compare(v) < 0
	case opLen:
		if v.Kind() == reflect.Struct {
			badType(r, v)
		}
		return r.compare(v) == 0
	case opOneof:
		var s string
		switch v.Kind() {
		case reflect.String:
			s = v.String()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			s = strconv.FormatInt(v.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			s = strconv.FormatUint(v.Uint(), 10)
		default:
			badType(r, v)
		}
		return slices.Contains(r.words, s)
	// The validator reads these through reflect.Value.String, which for another
	// kind is "<T Value>", and so fails them; so does this.
	case opEmail:
		s := v.String()
		if _, err := mail.ParseAddress(s); err != nil {
			return false
		}
		return emailRegexp().MatchString(s)
	case opE164:
		return isE164(v.String())
	case opISO4217:
		_, ok := money.MinorUnits(v.String())
		return ok
	case opPrintASCII:
		return v.Kind() == reflect.String && isPrintASCII(v.String())
	case opExcludesAll:
		return !strings.ContainsAny(v.String(), r.param)
	case opUUID:
		if v.Kind() != reflect.String && v.CanInterface() {
			if s, ok := v.Interface().(fmt.Stringer); ok {
				return isUUID(s.String())
			}
		}
		return isUUID(v.String())
	case opBCP47:
		if v.Kind() != reflect.String {
			badType(r, v)
		}
		_, err := language.Parse(v.String())
		return err == nil
	case opURL:
		if v.Kind() != reflect.String {
			badType(r, v)
		}
		return isURL(v.String())
	case opHTTPURL:
		if v.Kind() != reflect.String {
			badType(r, v)
		}
		return isHTTPURL(v.String())
	}
	panic(fmt.Sprintf("tagcheck: tag %q has no check", r.name)) // omitempty and dive never get here
}

// compare compares v with r's param: -1, 0 or +1 as v is less, equal or greater.
// A time.Time compares with now instead.
func (r rule) compare(v reflect.Value) int {
	switch v.Kind() {
	case reflect.String:
		return cmp.Compare(int64(utf8.RuneCountInString(v.String())), r.intParam(v))
	case reflect.Slice, reflect.Map, reflect.Array:
		return cmp.Compare(int64(v.Len()), r.intParam(v))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == durationType {
			return cmp.Compare(v.Int(), r.durationParam(v))
		}
		return cmp.Compare(v.Int(), r.intParam(v))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p, err := strconv.ParseUint(r.param, 0, 64)
		if err != nil {
			badParam(r, v, err)
		}
		return cmp.Compare(v.Uint(), p)
	case reflect.Float32, reflect.Float64:
		bits := 64
		if v.Kind() == reflect.Float32 {
			bits = 32
		}
		p, err := strconv.ParseFloat(r.param, bits)
		if err != nil {
			badParam(r, v, err)
		}
		return cmp.Compare(v.Float(), p)
	case reflect.Struct:
		if v.Type().ConvertibleTo(timeType) {
			now := time.Now().UTC()
			return v.Convert(timeType).Interface().(time.Time).Compare(now)
		}
	}
	badType(r, v)
	return 0
}

var durationType = reflect.TypeFor[time.Duration]()

func (r rule) intParam(v reflect.Value) int64 {
	p, err := strconv.ParseInt(r.param, 0, 64)
	if err != nil {
		badParam(r, v, err)
	}
	return p
}

// durationParam reads "30s", or a number of nanoseconds.
func (r rule) durationParam(v reflect.Value) int64 {
	if d, err := time.ParseDuration(r.param); err == nil {
		return int64(d)
	}
	return r.intParam(v)
}

func badParam(r rule, v reflect.Value, err error) {
	panic(fmt.Sprintf("tagcheck: tag %s=%s on type %s: %v", r.name, r.param, v.Type(), err))
}

// emailRegexp is compiled on first use: it is large.
var emailRegexp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(emailPattern) })

// emailPattern is go-playground/validator's e-mail pattern (v10.30.6,
// regexes.go), taken as it is so that every address the API accepted
// before it left the validator is accepted now (and no other).
// Copyright (c) 2015 Dean Karn, under the MIT License: "Permission is
// hereby granted, free of charge, to any person obtaining a copy of this
// software and associated documentation files (the "Software"), to deal in
// the Software without restriction, including without limitation the
// rights to use, copy, modify, merge, publish, distribute, sublicense,
// and/or sell copies of the Software, and to permit persons to whom the
// Software is furnished to do so, subject to the following conditions: The
// above copyright notice and this permission notice shall be included in
// all copies or substantial portions of the Software. THE SOFTWARE IS
// PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND."
const emailPattern = "^(?:(?:(?:(?:[a-zA-Z]|\\d|[!#\\$%&'\\*\\+\\-\\/=\\?\\^_`{\\|}~]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])+(?:\\.([a-zA-Z]|\\d|[!#\\$%&'\\*\\+\\-\\/=\\?\\^_`{\\|}~]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])+)*)|(?:(?:\\x22)(?:(?:(?:(?:\\x20|\\x09)*(?:\\x0d\\x0a))?(?:\\x20|\\x09)+)?(?:(?:[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]|\\x21|[\\x23-\\x5b]|[\\x5d-\\x7e]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[\\x01-\\x09\\x0b\\x0c\\x0d-\\x7f]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}]))))*(?:(?:(?:\\x20|\\x09)*(?:\\x0d\\x0a))?(\\x20|\\x09)+)?(?:\\x22))))@(?:(?:(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])(?:[a-zA-Z]|\\d|-|\\.|~|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])*(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])))\\.)+(?:(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])(?:[a-zA-Z]|\\d|-|\\.|~|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])*(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])))\\.?$"

// isE164 is the validator's ^\+?[1-9]\d{7,14}$ (ASCII digits).
func isE164(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 8 || len(s) > 15 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isUUID is the validator's 8-4-4-4-12 hexadecimal digits, any version, any case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isPrintASCII is the validator's ^[\x20-\x7E]*$.
func isPrintASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// isURL is the validator's url: lower-cased, parsed, with a scheme, and a host
// (or a fragment or opaque part; a file: URL needs a path instead).
func isURL(s string) bool {
	s = strings.ToLower(s)
	if s == "" {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	if u.Scheme == "file" {
		return u.Path != "" && u.Path != "/"
	}
	return u.Host != "" || u.Fragment != "" || u.Opaque != ""
}

// isHTTPURL is the validator's http_url: a url with scheme http or https and a host.
func isHTTPURL(s string) bool {
	if !isURL(s) {
		return false
	}
	u, err := url.Parse(strings.ToLower(s))
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// Rule is one tag of a validate tag, as Parse reads it.
type Rule struct {
	Name  string   // "max"
	Param string   // "50"; "" for a tag without one (0x2C and 0x7C already read)
	Words []string // oneof's words
}

// Parse reads a validate tag as a Checker does, with the same errors, for
// code that describes the tags rather than checks them (the OpenAPI
// generator, shared/openapi).
func Parse(tag string) ([]Rule, error) {
	rules, err := parse(tag)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{Name: r.name, Param: r.param, Words: r.words}
	}
	return out, nil
}
