package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tagcheck"
)

// tagChecker is built on first use, not at package init, so a function that never
// validates pays nothing. It caches per-type metadata, so one instance is shared.
var tagChecker = sync.OnceValue(func() *tagcheck.Checker { return tagcheck.New(jsonFieldName) })

// jsonFieldName makes error paths read as the client wrote them (price.amount, not
// Price.Amount). An embedded struct without a JSON name returns "" so that, as in
// encoding/json, its fields appear at the embedding level.
func jsonFieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch {
	case name == "-":
		return f.Name // not settable from JSON; the Go name is the most useful label
	case name != "":
		return name
	case f.Anonymous:
		return ""
	default:
		return f.Name
	}
}

// validatable is implemented by values that check invariants tags cannot express,
// money.Money among them.
type validatable interface {
	Validate() error
}

// Validate checks v's `validate` tags (shared/tagcheck, go-playground/validator's
// syntax; slices of structs are checked only with `dive`) and then calls the
// Validate() error method of v and of every struct, slice element and map value
// inside it, wherever one is defined. It returns nil or a 400 *Error whose Fields
// name each problem by JSON path: "price.amount", "items[1].price".
//
// A Validate method runs only when nothing inside its value failed first, because
// it may rely on its fields being valid; this also keeps one mistake from being
// reported twice. Its error text is shown to the client, so it must be written for
// them; an *Error with Fields is merged with its paths prefixed instead. The value
// as a whole (v's own method) is reported with the empty path. v must not be cyclic
// (the tag check would recurse forever); nothing decoded from JSON is.
func Validate(v any) error {
	rv := reflect.ValueOf(v)
	fields := tagErrors(rv, "")
	w := methodWalker{visited: map[visit]bool{}}
	for _, f := range fields {
		w.failed = append(w.failed, f.Field)
	}
	w.walk(rv, "", 0)
	fields = append(fields, w.fields...)
	if len(fields) == 0 {
		return nil
	}
	return &Error{Status: http.StatusBadRequest, Detail: "request failed validation", Fields: fields}
}

// tagErrors runs the tag check on the first struct level: it descends into nested
// structs itself, but not into a top-level slice or map, so those are walked here.
func tagErrors(v reflect.Value, path string) []problem.FieldError {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	var fields []problem.FieldError
	switch v.Kind() {
	case reflect.Struct:
		if !v.CanInterface() {
			return nil
		}
		// A time.Time has nothing to check: Struct returns nil.
		for _, f := range tagChecker().Struct(v.Interface()) {
			fields = append(fields, problem.FieldError{Field: joinPath(path, f.Path), Message: tagMessage(f)})
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			fields = append(fields, tagErrors(v.Index(i), path+"["+strconv.Itoa(i)+"]")...)
		}
	case reflect.Map:
		for _, k := range sortedKeys(v) {
			fields = append(fields, tagErrors(v.MapIndex(k), path+"["+fmt.Sprint(k.Interface())+"]")...)
		}
	}
	return fields
}

func joinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "" || child[0] == '[':
		return parent + child
	default:
		return parent + "." + child
	}
}

// visit identifies a pointer already walked, so a cyclic value ends.
type visit struct {
	ptr uintptr
	typ reflect.Type
}

// maxDepth bounds the walk for values a JSON decoder could never produce.
const maxDepth = 64

type methodWalker struct {
	failed  []string // paths that already have a problem
	fields  []problem.FieldError
	visited map[visit]bool
}

func (w *methodWalker) walk(v reflect.Value, path string, depth int) {
	if depth > maxDepth || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		key := visit{v.Pointer(), v.Type()}
		if w.visited[key] {
			return
		}
		w.visited[key] = true
		// The pointee is addressable, so check below finds pointer-receiver methods
		// too, and each method is called once.
		w.walk(v.Elem(), path, depth+1)
		return
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), path, depth+1)
		}
		return
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "-" {
				continue
			}
			w.walk(v.Field(i), joinPath(path, jsonFieldName(f)), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if mayHoldValidatable(v.Type().Elem()) {
			for i := range v.Len() {
				w.walk(v.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		}
	case reflect.Map:
		if mayHoldValidatable(v.Type().Elem()) {
			for _, k := range sortedKeys(v) {
				w.walk(v.MapIndex(k), path+"["+fmt.Sprint(k.Interface())+"]", depth+1)
			}
		}
	}
	w.check(v, path)
}

// check calls v's Validate method if it has one and nothing under path has failed.
func (w *methodWalker) check(v reflect.Value, path string) {
	if !hasValidateMethod(v.Type()) {
		return // the common case, decided without boxing v
	}
	target := v
	if v.CanAddr() {
		target = v.Addr()
	}
	if !target.CanInterface() {
		return // reached through an unexported field
	}
	val, ok := target.Interface().(validatable)
	if !ok || w.failedUnder(path) {
		return
	}
	err := val.Validate()
	if err == nil {
		return
	}
	var e *Error
	if errors.As(err, &e) && e != nil && len(e.Fields) > 0 {
		for _, f := range e.Fields {
			w.report(joinPath(path, f.Field), f.Message)
		}
		return
	}
	w.report(path, err.Error())
}

func (w *methodWalker) report(path, message string) {
	w.fields = append(w.fields, problem.FieldError{Field: path, Message: message})
	w.failed = append(w.failed, path)
}

func (w *methodWalker) failedUnder(path string) bool {
	for _, f := range w.failed {
		if path == "" || f == path || strings.HasPrefix(f, path+".") || strings.HasPrefix(f, path+"[") {
			return true
		}
	}
	return false
}

var validatableType = reflect.TypeFor[validatable]()

// mayHoldValidatable lets the walk skip the elements of a []byte or []string
// instead of visiting a megabyte of them one by one.
func mayHoldValidatable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return hasValidateMethod(t)
	}
	return true
}

func hasValidateMethod(t reflect.Type) bool {
	return t.Implements(validatableType) || reflect.PointerTo(t).Implements(validatableType)
}

// sortedKeys gives map entries a stable order, so the same request always gets the
// same response.
func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		return cmp.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
	})
	return keys
}

// tagMessage turns a failed tag (one shared/tagcheck knows) into a sentence for the
// client. The value is never quoted back: the client has it, and the log may not
// want it.
func tagMessage(f tagcheck.Failure) string {
	param := f.Param
	switch f.Tag {
	case "required":
		return "is required"
	case "min":
		return sizeMessage(f.Kind, "at least", param)
	case "max":
		return sizeMessage(f.Kind, "at most", param)
	case "len":
		return sizeMessage(f.Kind, "exactly", param)
	case "gt", "gte", "lt", "lte":
		return compareMessage(f.Tag, f.Kind, f.Type == reflect.TypeFor[time.Time](), param)
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(param), ", ")
	case "email":
		return "must be a valid email address"
	case "url", "http_url":
		return "must be a valid URL"
	case "uuid":
		return "must be a valid UUID"
	case "iso4217":
		return "must be an ISO 4217 currency code"
	case "bcp47_language_tag":
		return "must be a BCP 47 language tag"
	case "e164":
		return "must be a phone number in E.164 format"
	case "printascii":
		return "must contain only ASCII characters"
	}
	if param != "" {
		return fmt.Sprintf("must satisfy %s=%s", f.Tag, param)
	}
	return "must satisfy " + f.Tag
}

func sizeMessage(kind reflect.Kind, bound, n string) string {
	switch kind {
	case reflect.String:
		return fmt.Sprintf("must be %s %s %s long", bound, n, plural(n, "character"))
	case reflect.Slice, reflect.Array, reflect.Map:
		return fmt.Sprintf("must contain %s %s %s", bound, n, plural(n, "item"))
	default:
		if bound == "exactly" {
			return "must be " + n
		}
		return fmt.Sprintf("must be %s %s", bound, n)
	}
}

func compareMessage(tag string, kind reflect.Kind, isTime bool, param string) string {
	if isTime && param == "" {
		if tag == "gt" || tag == "gte" {
			return "must be in the future"
		}
		return "must be in the past"
	}
	switch kind {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		var bound string
		switch tag {
		case "gt":
			bound = "more than"
		case "gte":
			bound = "at least"
		case "lt":
			bound = "fewer than"
		default:
			bound = "at most"
		}
		if kind == reflect.String {
			return fmt.Sprintf("must be %s %s %s long", bound, param, plural(param, "character"))
		}
		return fmt.Sprintf("must contain %s %s %s", bound, param, plural(param, "item"))
	}
	switch tag {
	case "gt":
		return "must be greater than " + param
	case "gte":
		return "must be at least " + param
	case "lt":
		return "must be less than " + param
	default:
		return "must be at most " + param
	}
}

func plural(n, word string) string {
	if n == "1" {
		return word
	}
	return word + "s"
}
