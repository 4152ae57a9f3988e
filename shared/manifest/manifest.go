// Package manifest loads the declarative description of every service and
// function: functions/<service>/service.yaml (the service's table, and the
// tokens its issuer may mint) and functions/<service>/<op>/function.yaml
// (one function, its trigger, sizing, environment and permissions). The
// local deployer, keytool and the Terraform checks all read the topology
// through this package, so it is written down once.
//
//	set, err := manifest.Load(".")
//	for _, fn := range set.Functions() { fmt.Println(fn.Name, fn.HTTP.RouteKey()) }
//
// Loading is strict: unknown keys, missing fields, bad values and duplicate
// routes are errors that name the offending file.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// Function kinds, one per handler shape in shared/runtime.
const (
	KindHTTP  = "http"  // http.Handler behind an API Gateway route
	KindEvent = "event" // CloudEvents consumer behind EventBridge -> SQS
	KindStep  = "step"  // saga step invoked by Step Functions
	// KindStream is a service's outbox relay: it reads its own table's
	// DynamoDB stream, filtered to outbox items (shared/outbox), and
	// publishes each item's event to the bus. A service that publishes
	// events has exactly one.
	KindStream = "stream"

	// KindAuthorizer is the API Gateway Lambda authorizer (REQUEST, payload
	// 2.0, simple responses). At most one exists; every route whose auth is
	// not "none" is attached to it.
	KindAuthorizer = "authorizer"
)

// Auth levels a route may declare.
const (
	AuthNone  = "none"
	AuthUser  = "user"
	authScope = "scope:"
)

// Limits that AWS enforces; checking them here fails a bad manifest before
// a deploy does.
const (
	minMemoryMB        = 128
	maxMemoryMB        = 10240
	maxTimeoutSeconds  = 900
	maxHTTPTimeoutSecs = 29 // API Gateway's integration timeout
)

// Service is one functions/<service>/service.yaml plus its functions.
type Service struct {
	Name        string  `yaml:"service"`
	Description string  `yaml:"description"`
	Table       Table   `yaml:"table"`
	Tokens      *Tokens `yaml:"tokens"` // nil: the service mints no tokens
	// LocalOnly marks a test double of a system outside the shop (the
	// payment provider's simulator): the local deployer deploys its table
	// and functions, Terraform only when told to (use_payment_simulator).
	// No deployed function may depend on it but through a binding that a
	// real deployment points elsewhere (permissions.paymentProvider).
	LocalOnly bool `yaml:"localOnly"`
	// StateMachines are the service's Step Functions state machines.
	StateMachines []*StateMachine `yaml:"stateMachines"`
	// Publishes lists the event types (events/<type>.schema.json) the
	// service's handlers write to its outbox, all with source
	// naming.EventSource(service). Each type has one producer. A service
	// that publishes has a table stream (NEW_IMAGE or NEW_AND_OLD_IMAGES)
	// and one function of kind stream, its relay.
	Publishes []string `yaml:"publishes"`

	// Filled by Load.
	Dir       string      `yaml:"-"` // slash-separated, relative to the repo root
	Functions []*Function `yaml:"-"`
}

// Tokens declares what the service's token issuer (naming.Issuer(prefix,
// service)) may mint; it is published with the issuer's keys and enforced
// by every verifier (servicetoken.Policy):
//
//	tokens: {kinds: [user]}                           # users: login mints user tokens for any user id
//	tokens: {kinds: [service], scopes: [users:read]}  # a service that calls the users API
//
// A service token's subject is always the service's own name, and user
// tokens carry no scopes, so neither is declared. A service declares tokens
// exactly when some function of it has permissions.signingKey: a signing
// function without a declaration would mint tokens that verify nowhere,
// and a declaration without a signing function would be an issuer with
// keys nobody uses (Terraform makes signing secrets from signingKey, the
// deployer and keytool from the declarations; this rule keeps them one).
type Tokens struct {
	Kinds  []string `yaml:"kinds"`  // user and/or service
	Scopes []string `yaml:"scopes"` // <service>:<action>; service tokens only
}

// policy is what the declaration allows the issuer of service to mint.
func (t *Tokens) policy(service string) servicetoken.Policy {
	p := servicetoken.Policy{Kinds: slices.Clone(t.Kinds)}
	if slices.Contains(t.Kinds, servicetoken.KindService) {
		p.Subject = service
		p.Scopes = slices.Clone(t.Scopes)
	}
	return p
}

// StateMachine is a Step Functions state machine of a service, declared in
// its service.yaml:
//
//	stateMachines:
//	  - name: saga
//	    description: Places an order, and compensates in reverse when a step fails.
//	    definition: saga.asl.json
//
// The definition (a file beside service.yaml, Amazon States Language in
// JSONata) names the functions it invokes by manifest name, never by ARN:
// the string "${step:inventory-reserve}" stands for that function's ARN,
// which the deployment model fills in. Every such function must be of kind
// step; the state machine's role may invoke exactly those.
type StateMachine struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Definition  string `yaml:"definition"` // file name, relative to the service's directory

	// Filled by Load.
	Service string   `yaml:"-"`
	Source  string   `yaml:"-"` // the definition file's text
	Steps   []string `yaml:"-"` // the functions it refers to, sorted, each once
}

// StepRef is how a state machine definition refers to a step function.
var StepRef = regexp.MustCompile(`\$\{step:([a-z][a-z0-9-]*)\}`)

// Issuer is a token issuer of the deployment and what it may mint.
type Issuer struct {
	// Service names the issuer (naming.Issuer) and its signing secret
	// (naming.SigningSecret): a service, or naming.OperatorIssuer.
	Service string
	Policy  servicetoken.Policy
}

// OperatorPolicy is what the operator issuer (naming.OperatorIssuer: `make
// token`, tests, tools) may mint: service tokens as "operator", with any
// scope, so an operator can call every route. It has no function and so no
// manifest; this is where it is written down.
func OperatorPolicy() servicetoken.Policy {
	return servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: naming.OperatorIssuer, AnyScope: true}
}

// Issuers returns every token issuer, ordered by service: each service
// that declares tokens, and the operator. The deployer and keytool create
// and publish exactly these.
func (s *Set) Issuers() []Issuer {
	out := []Issuer{{Service: naming.OperatorIssuer, Policy: OperatorPolicy()}}
	for _, svc := range s.Services {
		if svc.Tokens != nil {
			out = append(out, Issuer{Service: svc.Name, Policy: svc.Tokens.policy(svc.Name)})
		}
	}
	slices.SortFunc(out, func(a, b Issuer) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// Issuer returns the issuer of service (or naming.OperatorIssuer), and
// false when the service declares no tokens.
func (s *Set) Issuer(service string) (Issuer, bool) {
	for _, iss := range s.Issuers() {
		if iss.Service == service {
			return iss, true
		}
	}
	return Issuer{}, false
}

// Table is the service's single DynamoDB table (billed on demand).
type Table struct {
	PartitionKey Key     `yaml:"partitionKey"`
	SortKey      *Key    `yaml:"sortKey"`
	TTL          string  `yaml:"ttl"`    // attribute holding the expiry (epoch seconds); "" for none
	Stream       string  `yaml:"stream"` // "" or a DynamoDB stream view type
	Indexes      []Index `yaml:"indexes"`
}

// Key is a key attribute: a name and a DynamoDB scalar type (S, N or B).
type Key struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// Index is a global secondary index.
type Index struct {
	Name         string `yaml:"name"`
	PartitionKey Key    `yaml:"partitionKey"`
	SortKey      *Key   `yaml:"sortKey"`
	Projection   string `yaml:"projection"` // ALL or KEYS_ONLY
}

// Function is one functions/<service>/<op>/function.yaml.
type Function struct {
	Name        string       `yaml:"name"` // must be <service>-<op>
	Description string       `yaml:"description"`
	Kind        string       `yaml:"kind"`
	HTTP        *HTTPTrigger `yaml:"http"`
	MemoryMB    int          `yaml:"memory"`
	TimeoutSecs int          `yaml:"timeout"`
	Environment Env          `yaml:"environment"`
	Permissions Permissions  `yaml:"permissions"`
	// HashesPasswords marks an http function that spends a deliberately
	// slow password hash (argon2id) per request: its route gets the
	// deployment's tighter throttling and its own reserved concurrency, so
	// a flood of logins cannot take the account's whole concurrency.
	HashesPasswords bool `yaml:"hashesPasswords"`
	// Events is what a function of kind event consumes.
	Events *EventTrigger `yaml:"events"`
	// Ingest registers the outside systems that may publish through this
	// function (the ingest endpoint, kind http with permissions.publishEvents).
	Ingest []IngestPublisher `yaml:"ingest"`

	// Filled by Load.
	Service string `yaml:"-"`
	Op      string `yaml:"-"`
	Dir     string `yaml:"-"` // slash-separated, relative to the repo root
}

// EventTrigger is what an event consumer receives: the events of Types,
// each from its one producer's source, that also match Pattern.
//
//	events:
//	  types: [shop.order.created.v1, shop.order.confirmed.v1]
//	  pattern: {detail: {data: {currency: [EUR]}}}   # optional
//
// The deployment turns it into an EventBridge rule (source and detail-type
// from the types, the rest from Pattern) feeding the consumer's own SQS
// queue, with a dead-letter queue, through an event source mapping.
type EventTrigger struct {
	Types []string `yaml:"types"`
	// Pattern holds further EventBridge pattern fields (any but source and
	// detail-type, which Types decides); nil for none.
	Pattern map[string]any `yaml:"pattern"`
}

// IngestPublisher is an outside system allowed to publish through the
// ingest endpoint: a service token whose subject is Subject may send events
// with source Source, of the types Types and no others.
type IngestPublisher struct {
	Subject string   `yaml:"subject" json:"subject"`
	Source  string   `yaml:"source" json:"source"`
	Types   []string `yaml:"types" json:"types"`
}

// Env is a function's own environment. Values must be strings that every
// YAML reader agrees on: Terraform's yamldecode follows YAML 1.1, where an
// unquoted on, yes or off is a boolean (deployed as "true"/"false"), while
// this loader follows YAML 1.2. Such plain scalars are refused: quote them.
type Env map[string]string

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *Env) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: environment must be a mapping", node.Line)
	}
	out := make(Env, len(node.Content)/2)
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: environment %s must be a string", v.Line, k.Value)
		}
		if v.Style == 0 && !plainSafe(v.Value) {
			return fmt.Errorf("line %d: environment %s: quote %q (YAML 1.1 readers such as Terraform may read it as a boolean, null, number or timestamp and deploy another string)", v.Line, k.Value, v.Value)
		}
		out[k.Value] = v.Value
	}
	*e = out
	return nil
}

// plainSafe reports an unquoted scalar that YAML 1.1 and 1.2 readers both
// turn into the same string: a word that is not a YAML 1.1 boolean or null,
// or a decimal integer in canonical form (Terraform prints it back unchanged).
func plainSafe(v string) bool {
	if canonicalIntRE.MatchString(v) {
		return true
	}
	return plainWordRE.MatchString(v) && !yaml11Words[strings.ToLower(v)]
}

var (
	canonicalIntRE = regexp.MustCompile(`^(0|-?[1-9][0-9]{0,14})$`)
	plainWordRE    = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./:@-]*$`)
	yaml11Words    = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "true": true, "false": true, "on": true, "off": true, "null": true}
)

// HTTPTrigger is the API Gateway route of an http function.
type HTTPTrigger struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Auth   string `yaml:"auth"` // none, user or scope:<name>
}

// RouteKey is the API Gateway route key, "METHOD /path".
func (h HTTPTrigger) RouteKey() string { return h.Method + " " + h.Path }

// InvokeResource is the route as it appears in the execute-api ARN API
// Gateway invokes the function as: "GET/v1/users/*" for GET
// /v1/users/{id}. A Lambda permission for
// <api>/<any stage>/InvokeResource() lets API Gateway invoke the function for
// this route and no other.
func (h HTTPTrigger) InvokeResource() string {
	return h.Method + pathParamRE.ReplaceAllString(h.Path, "*")
}

// Scope is the scope an auth level of "scope:<name>" requires, or "".
func (h HTTPTrigger) Scope() string { return strings.TrimPrefix(h.Auth, authScope) }

// Permissions lists what a function may do beyond writing its logs. Every
// DynamoDB action applies to its own service's table and indexes only.
type Permissions struct {
	DynamoDB []string `yaml:"dynamodb"`
	// SigningKey lets the function read its service's token signing keys
	// (Secrets Manager secret <prefix>/signing/<service>) to issue tokens as
	// issuer <prefix>-<service>; the service must declare what they may be
	// (Tokens).
	SigningKey bool `yaml:"signingKey"`
	// PublicKeys lets the function read the published verification keys
	// (SSM parameter /<prefix>/jwks) to verify tokens.
	PublicKeys bool `yaml:"publicKeys"`
	// Breakers lets the function share circuit-breaker state through the
	// platform service's table (items BREAKER#<dependency> only).
	Breakers bool `yaml:"breakers"`
	// StartExecution names state machines of the function's own service it
	// may start (states:StartExecution) and whose executions it may read
	// (states:DescribeExecution: a repeated start compares inputs). Each
	// one's ARN is in SHOP_STATE_MACHINE_<NAME>.
	StartExecution []string `yaml:"startExecution"`
	// Calls names the services of this stack whose HTTP API the function
	// calls; the API's base URL is in SHOP_API_URL. No IAM grant: the call
	// carries a service token, or goes to an open route.
	Calls []string `yaml:"calls"`
	// PaymentProvider lets the function talk to the payment provider (or
	// be its simulator): SHOP_PAYMENT_PROVIDER_URL is the provider's base
	// URL and SHOP_PAYMENT_PROVIDER_SECRET names the Secrets Manager secret
	// with its credentials, which the function may read.
	PaymentProvider bool `yaml:"paymentProvider"`
	// PublishEvents lets the function put events on the stack's bus
	// (events:PutEvents), named in SHOP_EVENT_BUS: a stream relay, or the
	// ingest endpoint.
	PublishEvents bool `yaml:"publishEvents"`
}

// Environment variables of the bindings and grants above.
const (
	EnvAPIURL                = "SHOP_API_URL"
	EnvPaymentProviderURL    = "SHOP_PAYMENT_PROVIDER_URL"
	EnvPaymentProviderSecret = "SHOP_PAYMENT_PROVIDER_SECRET"
	envStateMachinePrefix    = "SHOP_STATE_MACHINE_"

	// EnvEventBus names the bus a function with permissions.publishEvents
	// publishes to.
	EnvEventBus = "SHOP_EVENT_BUS"
	// EnvQueueURL is an event consumer's own queue (a binding): it
	// changes a failed message's visibility to back off.
	EnvQueueURL = "SHOP_QUEUE_URL"
	// EnvDeadLetterQueueURL is a stream relay's dead-letter queue (a
	// binding), where it parks a record it can never publish.
	EnvDeadLetterQueueURL = "SHOP_DEAD_LETTER_QUEUE_URL"
	// EnvIngestPublishers holds the ingest function's registered publishers
	// (Function.Ingest) as JSON: [{"subject","source","types"}].
	EnvIngestPublishers = "SHOP_INGEST_PUBLISHERS"
)

// EnvStateMachine is the variable holding the ARN of the named state
// machine ("saga": SHOP_STATE_MACHINE_SAGA).
func EnvStateMachine(name string) string {
	return envStateMachinePrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// StateMachines returns every state machine of every service, ordered by
// service and name.
func (s *Set) StateMachines() []*StateMachine {
	var out []*StateMachine
	for _, svc := range s.Services {
		out = append(out, svc.StateMachines...)
	}
	return out
}

// Set is every service found under functions/.
type Set struct {
	Services []*Service
	// EventTypes is the event catalog: every type with a schema in
	// events/<type>.schema.json, sorted.
	EventTypes []string
}

// Producer is who publishes an event type: a service of the stack (through
// its outbox), or an outside system through the ingest endpoint.
type Producer struct {
	Source  string // the CloudEvents and EventBridge source
	Service string // the publishing service; "" for an outside system
	Subject string // the outside system's token subject; "" for a service
}

// Producer returns the one producer of an event type, and false when
// nothing publishes it.
func (s *Set) Producer(eventType string) (Producer, bool) {
	for _, svc := range s.Services {
		if slices.Contains(svc.Publishes, eventType) {
			return Producer{Source: naming.EventSource(svc.Name), Service: svc.Name}, true
		}
	}
	for _, fn := range s.Functions() {
		for _, p := range fn.Ingest {
			if slices.Contains(p.Types, eventType) {
				return Producer{Source: p.Source, Subject: p.Subject}, true
			}
		}
	}
	return Producer{}, false
}

// Consumers returns the event consumers (kind event) of an event type,
// ordered by name.
func (s *Set) Consumers(eventType string) []*Function {
	var out []*Function
	for _, fn := range s.Functions() {
		if fn.Events != nil && slices.Contains(fn.Events.Types, eventType) {
			out = append(out, fn)
		}
	}
	return out
}

// Functions returns every function of every service, ordered by name.
func (s *Set) Functions() []*Function {
	var fns []*Function
	for _, svc := range s.Services {
		fns = append(fns, svc.Functions...)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns
}

// Service returns the named service, or nil.
func (s *Set) Service(name string) *Service {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// Environment returns the variables every deployment sets for fn: the
// manifest's own plus the wiring the platform provides.
func Environment(prefix string, fn *Function) map[string]string {
	env := make(map[string]string, len(fn.Environment)+3)
	for k, v := range fn.Environment {
		env[k] = v
	}
	env["SHOP_PREFIX"] = prefix
	env["SHOP_SERVICE"] = fn.Service
	env["SHOP_FUNCTION"] = fn.Name
	env["SHOP_TABLE"] = naming.Table(prefix, fn.Service)
	if fn.HTTP != nil {
		// The function verifies the caller and enforces the route's
		// authorization itself (scopes, ownership); API Gateway's authorizer
		// only authenticates, so that its per-token cache is right for every
		// route.
		env["SHOP_AUTH"] = fn.HTTP.Auth
		// On Knative nothing routes in front of the container: the runtime
		// mounts the handler on this route, so path values work there too.
		env["SHOP_ROUTE"] = fn.HTTP.RouteKey()
	}
	return env
}

// Authorizer returns the authorizer function, or nil if there is none.
func (s *Set) Authorizer() *Function {
	for _, fn := range s.Functions() {
		if fn.Kind == KindAuthorizer {
			return fn
		}
	}
	return nil
}

// Load reads every manifest below root/functions.
func Load(root string) (*Set, error) {
	svcFiles, err := filepath.Glob(filepath.Join(root, "functions", "*", "service.yaml"))
	if err != nil {
		return nil, err
	}
	if len(svcFiles) == 0 {
		return nil, fmt.Errorf("manifest: no functions/*/service.yaml under %s", root)
	}
	sort.Strings(svcFiles)

	set := &Set{}
	if set.EventTypes, err = loadCatalog(root); err != nil {
		return nil, err
	}
	var errs []error
	routes := map[string]string{} // route key -> file that declared it
	for _, svcFile := range svcFiles {
		svc, err := loadService(root, svcFile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fnFiles, err := filepath.Glob(filepath.Join(filepath.Dir(svcFile), "*", "function.yaml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(fnFiles)
		for _, fnFile := range fnFiles {
			fn, err := loadFunction(root, svc, fnFile)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if fn.HTTP != nil {
				key := fn.HTTP.RouteKey()
				if prev, dup := routes[key]; dup {
					errs = append(errs, fmt.Errorf("%s: route %q is already declared by %s", rel(root, fnFile), key, prev))
					continue
				}
				routes[key] = rel(root, fnFile)
			}
			svc.Functions = append(svc.Functions, fn)
		}
		if svc.Tokens != nil && !slices.ContainsFunc(svc.Functions, func(fn *Function) bool { return fn.Permissions.SigningKey }) {
			errs = append(errs, fmt.Errorf("%s: tokens: no function of service %s has permissions.signingKey, so its issuer would have keys that nothing signs with; declare tokens where a function signs", rel(root, svcFile), svc.Name))
		}
		set.Services = append(set.Services, svc)
	}
	errs = append(errs, checkReferences(set)...)
	errs = append(errs, checkEvents(set)...)
	var authorizers []string
	protected := ""
	for _, fn := range set.Functions() {
		if fn.Kind == KindAuthorizer {
			authorizers = append(authorizers, fn.Dir)
		}
		if fn.HTTP != nil && fn.HTTP.Auth != AuthNone && protected == "" {
			protected = fn.Dir
		}
	}
	if set.Service(naming.PlatformService) == nil {
		for _, fn := range set.Functions() {
			if fn.Permissions.Breakers {
				errs = append(errs, fmt.Errorf("%s/function.yaml: permissions.breakers needs the %s service, which keeps breaker state", fn.Dir, naming.PlatformService))
			}
		}
	}
	if len(authorizers) > 1 {
		errs = append(errs, fmt.Errorf("more than one function of kind authorizer: %v", authorizers))
	}
	if protected != "" && len(authorizers) == 0 {
		errs = append(errs, fmt.Errorf("%s/function.yaml: the route needs auth, but no function of kind authorizer exists", protected))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

// checkReferences checks what names other manifests: the services a
// function calls, and the steps a state machine invokes.
func checkReferences(set *Set) []error {
	var errs []error
	for _, fn := range set.Functions() {
		for _, name := range fn.Permissions.Calls {
			svc := set.Service(name)
			switch {
			case svc == nil:
				errs = append(errs, fmt.Errorf("%s/function.yaml: permissions.calls: no service %q", fn.Dir, name))
			case svc.LocalOnly:
				errs = append(errs, fmt.Errorf("%s/function.yaml: permissions.calls: %s is localOnly (absent from real deployments); reach it through a binding such as permissions.paymentProvider", fn.Dir, name))
			case !slices.ContainsFunc(svc.Functions, func(f *Function) bool { return f.HTTP != nil }):
				errs = append(errs, fmt.Errorf("%s/function.yaml: permissions.calls: service %s has no http function", fn.Dir, name))
			}
		}
	}
	fns := map[string]*Function{}
	for _, fn := range set.Functions() {
		fns[fn.Name] = fn
	}
	for _, sm := range set.StateMachines() {
		for _, step := range sm.Steps {
			switch fn := fns[step]; {
			case fn == nil:
				errs = append(errs, fmt.Errorf("functions/%s/%s: ${step:%s}: no such function", sm.Service, sm.Definition, step))
			case fn.Kind != KindStep:
				errs = append(errs, fmt.Errorf("functions/%s/%s: ${step:%s} is of kind %s, not step", sm.Service, sm.Definition, step, fn.Kind))
			case set.Service(fn.Service).LocalOnly:
				errs = append(errs, fmt.Errorf("functions/%s/%s: ${step:%s} belongs to a localOnly service", sm.Service, sm.Definition, step))
			}
		}
	}
	return errs
}

func loadService(root, file string) (*Service, error) {
	var svc Service
	if err := decodeStrict(file, &svc); err != nil {
		return nil, fmt.Errorf("%s: %w", rel(root, file), err)
	}
	dirName := filepath.Base(filepath.Dir(file))
	svc.Dir = filepath.ToSlash(rel(root, filepath.Dir(file)))
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if svc.Name != dirName {
		bad("service: is %q, want the directory name %q", svc.Name, dirName)
	}
	if !identRE.MatchString(svc.Name) {
		bad("service: %q must match %s", svc.Name, identRE)
	}
	if svc.Name == naming.OperatorIssuer {
		bad("service: %q is reserved for operator tokens", svc.Name)
	}
	if svc.Description == "" {
		bad("description: missing")
	}
	t := svc.Table
	checkKey("table.partitionKey", &t.PartitionKey, bad)
	if t.SortKey != nil {
		checkKey("table.sortKey", t.SortKey, bad)
	}
	if t.Stream != "" && !slices.Contains(streamViews, t.Stream) {
		bad("table.stream: %q is not one of %v", t.Stream, streamViews)
	}
	seen := map[string]bool{}
	for i, ix := range t.Indexes {
		where := fmt.Sprintf("table.indexes[%d]", i)
		if !identRE.MatchString(ix.Name) {
			bad("%s.name: %q must match %s", where, ix.Name, identRE)
		}
		if seen[ix.Name] {
			bad("%s.name: %q is declared twice", where, ix.Name)
		}
		seen[ix.Name] = true
		checkKey(where+".partitionKey", &ix.PartitionKey, bad)
		if ix.SortKey != nil {
			checkKey(where+".sortKey", ix.SortKey, bad)
		}
		if ix.Projection != "ALL" && ix.Projection != "KEYS_ONLY" {
			bad("%s.projection: %q is not ALL or KEYS_ONLY", where, ix.Projection)
		}
	}
	if svc.Tokens != nil {
		checkTokens(svc.Name, svc.Tokens, bad)
	}
	names := map[string]bool{}
	for i, sm := range svc.StateMachines {
		where := fmt.Sprintf("stateMachines[%d]", i)
		if !opRE.MatchString(sm.Name) {
			bad("%s.name: %q must match %s", where, sm.Name, opRE)
		}
		if names[sm.Name] {
			bad("%s.name: %q is declared twice", where, sm.Name)
		}
		names[sm.Name] = true
		if sm.Description == "" {
			bad("%s.description: missing", where)
		}
		if err := loadDefinition(filepath.Dir(file), sm); err != nil {
			bad("%s.definition: %v", where, err)
		}
		sm.Service = svc.Name
	}
	if svc.LocalOnly && len(svc.StateMachines) > 0 {
		bad("stateMachines: a localOnly service stands in for an outside system and runs no saga")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", rel(root, file), err)
	}
	return &svc, nil
}

// loadDefinition reads a state machine's definition file: a JSON object in
// JSONata (QueryLanguage at the top, so no state falls back to JSONPath,
// whose missing fields the local emulator turns into silent nulls) with
// StartAt and States, naming its steps only through StepRef.
func loadDefinition(dir string, sm *StateMachine) error {
	if sm.Definition == "" || filepath.Base(sm.Definition) != sm.Definition || !strings.HasSuffix(sm.Definition, ".asl.json") {
		return fmt.Errorf("%q must be a file name ending in .asl.json, beside service.yaml", sm.Definition)
	}
	data, err := os.ReadFile(filepath.Join(dir, sm.Definition))
	if err != nil {
		return err
	}
	var doc struct {
		QueryLanguage string          `json:"QueryLanguage"`
		StartAt       string          `json:"StartAt"`
		States        json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", sm.Definition, err)
	}
	if doc.QueryLanguage != "JSONata" || doc.StartAt == "" || len(doc.States) == 0 {
		return fmt.Errorf("%s: want a top-level \"QueryLanguage\": \"JSONata\", StartAt and States", sm.Definition)
	}
	if strings.Contains(string(data), ":function:") {
		return fmt.Errorf("%s: refer to functions as \"${step:<manifest name>}\", never by ARN", sm.Definition)
	}
	steps := map[string]bool{}
	for _, m := range StepRef.FindAllStringSubmatch(string(data), -1) {
		steps[m[1]] = true
	}
	if len(steps) == 0 {
		return fmt.Errorf("%s: refers to no step (\"${step:<manifest name>}\")", sm.Definition)
	}
	sm.Source = string(data)
	sm.Steps = slices.Sorted(maps.Keys(steps))
	return nil
}

func checkTokens(service string, t *Tokens, bad func(string, ...any)) {
	if len(t.Kinds) == 0 {
		bad("tokens.kinds: missing (%s and/or %s)", servicetoken.KindUser, servicetoken.KindService)
	}
	for i, k := range t.Kinds {
		if k != servicetoken.KindUser && k != servicetoken.KindService {
			bad("tokens.kinds: %q is not %s or %s", k, servicetoken.KindUser, servicetoken.KindService)
		}
		if slices.Contains(t.Kinds[:i], k) {
			bad("tokens.kinds: %s appears twice", k)
		}
		if k == servicetoken.KindUser && service != naming.UserTokenService {
			// Verifiers accept user tokens from that one issuer (ssmkeys.NewVerifier).
			bad("tokens.kinds: only the %s service may mint %s tokens (naming.UserTokenService)", naming.UserTokenService, k)
		}
	}
	if len(t.Scopes) > 0 && !slices.Contains(t.Kinds, servicetoken.KindService) {
		bad("tokens.scopes: only %s tokens carry scopes, and tokens.kinds lacks %s", servicetoken.KindService, servicetoken.KindService)
	}
	for i, sc := range t.Scopes {
		if !scopeRE.MatchString(sc) {
			bad("tokens.scopes: %q must be <service>:<action> (%s)", sc, scopeRE)
		}
		if slices.Contains(t.Scopes[:i], sc) {
			bad("tokens.scopes: %s appears twice", sc)
		}
	}
}

func loadFunction(root string, svc *Service, file string) (*Function, error) {
	var fn Function
	if err := decodeStrict(file, &fn); err != nil {
		return nil, fmt.Errorf("%s: %w", rel(root, file), err)
	}
	fn.Service = svc.Name
	fn.Op = filepath.Base(filepath.Dir(file))
	fn.Dir = filepath.ToSlash(rel(root, filepath.Dir(file)))

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !opRE.MatchString(fn.Op) {
		bad("directory %q must match %s", fn.Op, opRE)
	}
	if want := svc.Name + "-" + fn.Op; fn.Name != want {
		bad("name: is %q, want %q (<service>-<directory>)", fn.Name, want)
	}
	if fn.Description == "" {
		bad("description: missing")
	}
	switch fn.Kind {
	case KindHTTP:
		if fn.HTTP == nil {
			bad("http: missing for kind http")
		} else {
			checkHTTP(fn.HTTP, bad)
		}
		if fn.HTTP != nil && fn.HTTP.Auth != AuthNone && !fn.Permissions.PublicKeys {
			bad("permissions.publicKeys: the route's auth is %q, and the function verifies its caller's token itself: it must be allowed to read the public keys", fn.HTTP.Auth)
		}
		if fn.TimeoutSecs > maxHTTPTimeoutSecs {
			bad("timeout: %d s exceeds API Gateway's %d s integration limit", fn.TimeoutSecs, maxHTTPTimeoutSecs)
		}
	case KindEvent, KindStep, KindAuthorizer, KindStream:
		if fn.HTTP != nil {
			bad("http: only allowed for kind http")
		}
		if fn.Kind == KindAuthorizer && !fn.Permissions.PublicKeys {
			bad("permissions.publicKeys: an authorizer must be allowed to read the public keys")
		}
	default:
		bad("kind: %q is not one of http, event, step, authorizer, stream", fn.Kind)
	}
	if (fn.Kind == KindEvent) != (fn.Events != nil) {
		bad("events: required for kind event, and only allowed there")
	}
	if fn.Kind == KindStream && !fn.Permissions.PublishEvents {
		bad("permissions.publishEvents: a stream relay publishes its service's events, and must say so")
	}
	if len(fn.Ingest) > 0 && (fn.Kind != KindHTTP || !fn.Permissions.PublishEvents) {
		bad("ingest: only for kind http with permissions.publishEvents (the ingest endpoint)")
	}
	if fn.HashesPasswords && fn.Kind != KindHTTP {
		bad("hashesPasswords: only allowed for kind http (it sets a route's throttling)")
	}
	if fn.MemoryMB < minMemoryMB || fn.MemoryMB > maxMemoryMB {
		bad("memory: %d MB is outside %d..%d", fn.MemoryMB, minMemoryMB, maxMemoryMB)
	}
	if fn.TimeoutSecs < 1 || fn.TimeoutSecs > maxTimeoutSeconds {
		bad("timeout: %d s is outside 1..%d", fn.TimeoutSecs, maxTimeoutSeconds)
	}
	for k := range fn.Environment {
		if !envRE.MatchString(k) {
			bad("environment: %q is not a valid variable name", k)
		}
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "SHOP_") {
			bad("environment: %q is reserved (AWS_* and SHOP_* are set by the platform)", k)
		}
	}
	for _, name := range fn.Permissions.StartExecution {
		if !slices.ContainsFunc(svc.StateMachines, func(sm *StateMachine) bool { return sm.Name == name }) {
			bad("permissions.startExecution: %q is not a state machine of %s/service.yaml", name, svc.Dir)
		}
	}
	if fn.Permissions.SigningKey && svc.Tokens == nil {
		bad("permissions.signingKey: service %s declares no tokens in %s/service.yaml, so what this function signs would verify nowhere; declare what its issuer may mint", svc.Name, svc.Dir)
	}
	for _, a := range fn.Permissions.DynamoDB {
		if items, ok := transactions[a]; ok {
			bad("permissions.dynamodb: %s is not an IAM action: a transaction needs the actions of its items (%s)", a, items)
		} else if !slices.Contains(dynamoDBActions, a) {
			bad("permissions.dynamodb: %q is not one of %v", a, dynamoDBActions)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", rel(root, file), err)
	}
	return &fn, nil
}

func checkHTTP(h *HTTPTrigger, bad func(string, ...any)) {
	if !slices.Contains(httpMethods, h.Method) {
		bad("http.method: %q is not one of %v", h.Method, httpMethods)
	}
	if !pathRE.MatchString(h.Path) {
		bad("http.path: %q must be /segments with {param} placeholders", h.Path)
	}
	switch {
	case h.Auth == AuthNone, h.Auth == AuthUser:
	case strings.HasPrefix(h.Auth, authScope) && scopeRE.MatchString(h.Scope()):
	default:
		bad("http.auth: %q is not none, user or scope:<service>:<action>", h.Auth)
	}
}

func checkKey(where string, k *Key, bad func(string, ...any)) {
	if k.Name == "" {
		bad("%s.name: missing", where)
	}
	if k.Type != "S" && k.Type != "N" && k.Type != "B" {
		bad("%s.type: %q is not S, N or B", where, k.Type)
	}
}

// decodeStrict decodes exactly one YAML document, rejecting unknown keys.
func decodeStrict(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty manifest")
		}
		return err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

var (
	identRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	opRE    = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	envRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	// A literal segment may hold a dot (openapi.json), never lead with one.
	pathRE      = regexp.MustCompile(`^(/([a-z0-9][a-z0-9.-]*|\{[a-zA-Z][a-zA-Z0-9]*\}))+$`)
	pathParamRE = regexp.MustCompile(`\{[^}]*\}`)
	scopeRE     = regexp.MustCompile(`^[a-z][a-z0-9]*:[a-z][a-z0-9-]*$`)

	httpMethods     = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	streamViews     = []string{"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"}
	dynamoDBActions = []string{
		"GetItem", "BatchGetItem", "Query", "Scan",
		"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
		"ConditionCheckItem",
	}
	// transactions are API operations IAM does not know as actions: it
	// authorises each item of a transaction by the item's own action on the
	// item's table, so granting the operation's name grants nothing.
	transactions = map[string]string{
		"TransactWriteItems": "PutItem, UpdateItem, DeleteItem, ConditionCheckItem",
		"TransactGetItems":   "GetItem",
	}
)

// eventTypeRE is an event type: shop.<entity>[.<more>].<action>.v<version>.
var eventTypeRE = regexp.MustCompile(`^shop(\.[a-z][a-z0-9]*){2,}\.v[1-9][0-9]*$`)

// catalogSuffix ends the file name of every schema in events/.
const catalogSuffix = ".schema.json"

// loadCatalog lists the event types of root/events: one schema file each.
// The schemas themselves are the catalog package's (events/); here only
// their names matter, so that manifests name only types that exist.
func loadCatalog(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, "events", "*"+catalogSuffix))
	if err != nil {
		return nil, err
	}
	var types []string
	for _, f := range files {
		t := strings.TrimSuffix(filepath.Base(f), catalogSuffix)
		if t == "cloudevent" {
			continue // the envelope every type's schema refers to
		}
		if !eventTypeRE.MatchString(t) {
			return nil, fmt.Errorf("events/%s: %q is not an event type (%s)", filepath.Base(f), t, eventTypeRE)
		}
		types = append(types, t)
	}
	sort.Strings(types)
	return types, nil
}

// checkEvents checks what publishes and consumes events: every type named
// is in the catalog and has exactly one producer; publishing services have
// a stream and a relay; consumers' patterns leave source and detail-type to
// their types; outside systems use sources of their own.
func checkEvents(set *Set) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	known := func(where, t string) bool {
		if _, ok := slices.BinarySearch(set.EventTypes, t); !ok {
			bad("%s: event type %q has no schema in events/", where, t)
			return false
		}
		return true
	}
	producers := map[string]string{} // type -> who publishes it
	produce := func(where, t string) {
		if prev, dup := producers[t]; dup {
			bad("%s: event type %s is already published by %s; a type has one producer", where, t, prev)
			return
		}
		producers[t] = where
	}
	for _, svc := range set.Services {
		where := svc.Dir + "/service.yaml: publishes"
		for _, t := range svc.Publishes {
			if known(where, t) {
				produce(where, t)
			}
		}
		relays := 0
		for _, fn := range svc.Functions {
			if fn.Kind == KindStream {
				relays++
			}
		}
		switch {
		case len(svc.Publishes) > 0 && svc.Table.Stream != "NEW_IMAGE" && svc.Table.Stream != "NEW_AND_OLD_IMAGES":
			bad("%s: the outbox relay reads new images: table.stream must be NEW_IMAGE or NEW_AND_OLD_IMAGES", where)
		case len(svc.Publishes) > 0 && relays != 1:
			bad("%s: a publishing service has exactly one function of kind stream (its relay), not %d", where, relays)
		case len(svc.Publishes) == 0 && relays > 0:
			bad("%s/service.yaml: a function of kind stream relays the outbox, but the service publishes nothing", svc.Dir)
		}
	}
	sources := map[string]string{} // outside source -> subject
	for _, fn := range set.Functions() {
		for i, p := range fn.Ingest {
			where := fmt.Sprintf("%s/function.yaml: ingest[%d]", fn.Dir, i)
			if p.Subject != naming.OperatorIssuer && !identRE.MatchString(p.Subject) {
				bad("%s.subject: %q is not a token subject", where, p.Subject)
			}
			if p.Source == "" || strings.HasPrefix(p.Source, naming.EventSourcePrefix) || strings.HasPrefix(p.Source, "aws.") {
				bad("%s.source: %q: an outside system needs a source of its own (not empty, not %s*, not aws.*)", where, p.Source, naming.EventSourcePrefix)
			}
			if prev, dup := sources[p.Source]; dup && prev != p.Subject {
				bad("%s.source: %s is registered for %s already", where, p.Source, prev)
			}
			sources[p.Source] = p.Subject
			if len(p.Types) == 0 {
				bad("%s.types: missing", where)
			}
			for _, t := range p.Types {
				if known(where, t) {
					produce(where, t)
				}
			}
		}
	}
	for _, fn := range set.Functions() {
		if fn.Events == nil {
			continue
		}
		where := fn.Dir + "/function.yaml: events"
		if len(fn.Events.Types) == 0 {
			bad("%s.types: missing", where)
		}
		for i, t := range fn.Events.Types {
			if slices.Contains(fn.Events.Types[:i], t) {
				bad("%s.types: %s appears twice", where, t)
			}
			if known(where, t) {
				if _, ok := producers[t]; !ok {
					bad("%s.types: nothing publishes %s", where, t)
				}
			}
		}
		for k := range fn.Events.Pattern {
			if k == "source" || k == "detail-type" {
				bad("%s.pattern.%s: decided by the types; leave it out", where, k)
			}
		}
	}
	return errs
}
