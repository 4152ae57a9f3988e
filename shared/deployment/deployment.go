// Package deployment is the one model of a shop deployment: every resource
// with its physical name, settings, environment, IAM policy and trigger,
// built from the manifests (shared/manifest) and the names in
// shared/naming. Everything that deploys shop reads it and nothing else:
//
//   - the local deployer (localstack/deploy) applies it to an emulator;
//   - Terraform (infra/) reads it as infra/deployment.json, rendered with
//     placeholders for what only Terraform knows (Template, `make generate`);
//   - the Knative manifests (infra/knative) are generated from it.
//
// A fact about the deployment (a name, a grant, a setting, a variable) is
// written here once; the deployer, the Terraform and the generated files
// only map the model onto their resources.
//
//	d, err := deployment.Build(set, deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
//	for _, fn := range d.Functions { fmt.Println(fn.FunctionName, fn.Role.Policy) }
package deployment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// Params are what a deployment target decides: the stack's prefix and where
// it lives. Every ARN of the model is built from them.
type Params struct {
	Prefix    string
	Region    string
	Account   string
	Partition string // "" means "aws"
	// PaymentProviderSecret names the secret with the payment provider's
	// credentials; "" means naming.PaymentProviderSecret(Prefix).
	PaymentProviderSecret string
}

// Placeholders stand for the values Terraform learns at plan time in the
// model it reads (Template): infra/ substitutes them, as text, before it
// decodes infra/deployment.json.
var Placeholders = Params{
	Prefix:    "{prefix}",
	Region:    "{region}",
	Account:   "{account}",
	Partition: "{partition}",

	PaymentProviderSecret: "{paymentProviderSecret}",
}

// Settings every function shares: a Go binary named bootstrap on the
// OS-only runtime, traced, logging JSON. The architecture is not here: it
// is the target's (arm64 on AWS, the host's on an emulator, which runs the
// zip's binary whatever the setting says).
const (
	Runtime   = "provided.al2023"
	Handler   = "bootstrap" // ignored by provided runtimes, but AWS requires one
	Tracing   = "Active"
	LogFormat = "JSON"
)

// HTTP API settings. The stage has no tracing setting: HTTP APIs have no
// X-Ray support (REST APIs do); a trace begins at the function.
const (
	Stage                = "$default"
	PayloadFormatVersion = "2.0"
	// AuthorizerTTL caches a verdict per Authorization header for a minute:
	// tokens live longer than that, and a revoked key stops working within
	// a minute without every request paying for the authorizer. The
	// authorizer only authenticates, so its answer depends on the token
	// alone and caching it is right for every route.
	AuthorizerTTL      = 60
	AuthorizerIdentity = "$request.header.Authorization"

	// Statement ids of the grants that let API Gateway invoke functions.
	RoutePermissionID      = "AllowHttpApiInvoke"
	AuthorizerPermissionID = "AllowHttpApiAuthorizerInvoke"
)

// Deployment is the whole stack.
type Deployment struct {
	Prefix string `json:"prefix"`

	// Settings are the stack-wide defaults; Terraform lets an operator
	// override each (a variable whose null means the model's value).
	Settings Settings `json:"settings"`

	Tables    []Table    `json:"tables"`
	Functions []Function `json:"functions"`
	API       HTTPAPI    `json:"api"`

	// Token issuers: a signing secret each (written by keytool or the
	// deployer, never by Terraform), and one parameter holding every
	// issuer's public keys.
	Issuers       []Issuer `json:"issuers"`
	JWKSParameter string   `json:"jwksParameter"`

	StateMachines []StateMachine `json:"stateMachines"`

	// PaymentProvider is the outside payment provider the functions with
	// permissions.paymentProvider talk to; nil when none does.
	PaymentProvider *PaymentProvider `json:"paymentProvider,omitempty"`

	// EventBus is the stack's bus; nil when no service publishes and
	// nothing ingests.
	EventBus *EventBus `json:"eventBus,omitempty"`

	// Observability is the alarms, their topic, the dashboard and the
	// X-Ray sampling rules (observability.go).
	Observability *Observability `json:"observability"`

	// Artifacts is where Terraform puts the functions' code.
	Artifacts Artifacts `json:"artifacts"`
}

// Artifacts is the bucket Terraform delivers every function's zip through:
// each zip is an object under KeyPrefix named by the function and the
// zip's SHA-256, and the function's code comes from it. Lambda copies the
// code when the function is created or updated, so an object is needed
// only then; Terraform removes the old one when the code changes. Through
// S3 the functions are created in parallel (the AWS provider uploads a
// local zip one function at a time) and a zip may grow past the 50 MB a
// direct upload allows. The local deployer uploads each zip with the call
// that creates the function and has no bucket.
type Artifacts struct {
	Bucket    string `json:"bucket"`
	KeyPrefix string `json:"keyPrefix"`
}

// ArtifactKeyPrefix starts the key of every function's zip in the
// artifacts bucket: <prefix><function name>/<sha256 hex>.zip.
const ArtifactKeyPrefix = "functions/"

// Bindings: values a function's environment needs that exist only once the
// target has created something (the API's URL) or that the operator of a
// real deployment decides (the payment provider's URL). The model names
// them (Function.Bindings); each target fills them in: the local deployer
// once its API exists, Terraform from the API resource and its variables.
const (
	// BindingAPIURL is the stack's API base URL, with no trailing slash
	// (on AWS the $default stage's invoke URL).
	BindingAPIURL = "apiUrl"
	// BindingPaymentProviderURL is the payment provider's base URL: on a
	// real deployment an operator's setting; where the simulator is
	// deployed, the API base URL + PaymentSimulatorPath.
	BindingPaymentProviderURL = "paymentProviderUrl"
)

// PaymentSimulatorPath is where the payment provider's simulator (the
// localOnly service whose functions have permissions.paymentProvider)
// serves on the stack's API: its routes start with it, and its base URL is
// the API's base URL followed by it.
const PaymentSimulatorPath = "/provider"

// PaymentProvider is the payment provider's wiring.
type PaymentProvider struct {
	// Secret holds the provider's credentials as JSON {"apiKey": "..."}:
	// the deployer (and Terraform with the simulator) creates it; against
	// a real provider the operator does.
	Secret            string `json:"secret"`
	SecretDescription string `json:"secretDescription"`
	// Simulator lists the functions of the provider's simulator (localOnly).
	Simulator []string `json:"simulator"`
	// SimulatorPath is PaymentSimulatorPath: where the simulator, when
	// deployed, serves on the stack's API (Terraform reads it here).
	SimulatorPath string `json:"simulatorPath"`
}

// StateMachine is a Step Functions state machine (STANDARD) with its role
// and execution log.
type StateMachine struct {
	Name             string `json:"name"` // <service>-<manifest name>, e.g. orders-saga
	Service          string `json:"service"`
	StateMachineName string `json:"stateMachineName"`
	ARN              string `json:"arn"`
	Description      string `json:"description"`
	Type             string `json:"type"`
	// Definition is the manifest's definition with every ${step:<name>}
	// replaced by that function's ARN, compacted.
	Definition string   `json:"definition"`
	Steps      []string `json:"steps"` // manifest names of the functions it invokes
	// LogGroup receives the execution log at LogLevel, without execution
	// data (inputs carry payment tokens).
	LogGroup string `json:"logGroup"`
	LogLevel string `json:"logLevel"`
	Tracing  bool   `json:"tracing"`
	Role     Role   `json:"role"`
}

// Settings are the stack-wide settings every deployment applies alike.
type Settings struct {
	// LogRetentionDays is how long the functions' and the API's log groups
	// keep their logs: two weeks by default, long enough to look into last
	// week's incident, short enough that logs full of request details do
	// not pile up. CloudWatch Logs accepts only some values
	// (TestLogRetentionIsOneCloudWatchAccepts).
	LogRetentionDays int `json:"logRetentionDays"`
	// Throttling is the $default stage's limit for every route; password
	// routes (Function.HashesPasswords) get the tighter PasswordThrottling
	// as route settings, since each of their requests costs a deliberately
	// slow hash.
	Throttling         Throttling `json:"throttling"`
	PasswordThrottling Throttling `json:"passwordThrottling"`
	// PointInTimeRecovery and ServerSideEncryption (the AWS-managed KMS key,
	// whose use shows in CloudTrail, rather than the invisible AWS-owned
	// one) are on for every table.
	PointInTimeRecovery  bool `json:"pointInTimeRecovery"`
	ServerSideEncryption bool `json:"serverSideEncryption"`
}

// Throttling is an API Gateway token bucket: Burst requests at once,
// refilled at Rate per second.
type Throttling struct {
	Burst int     `json:"burst"`
	Rate  float64 `json:"rate"`
}

// DefaultSettings are the model's settings.
func DefaultSettings() Settings {
	return Settings{
		LogRetentionDays:     14,
		Throttling:           Throttling{Burst: 100, Rate: 50},
		PasswordThrottling:   Throttling{Burst: 10, Rate: 5},
		PointInTimeRecovery:  true,
		ServerSideEncryption: true,
	}
}

// AccessLogFormat is one JSON line per API request; integrationError carries
// the reason when the Lambda integration itself fails (timeout, permission,
// bad response), which the function's own logs cannot show.
const AccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","path":"$context.path","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","responseLatency":"$context.responseLatency","integrationStatus":"$context.integrationStatus","integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage","error":"$context.error.message","authorizerError":"$context.authorizer.error","sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent"}`

// Table is a service's DynamoDB table, billed on demand.
type Table struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	ARN     string `json:"arn"`
	// LocalOnly: a simulator's table, deployed only where the simulator is.
	LocalOnly bool `json:"localOnly"`

	PartitionKey string `json:"partitionKey"`
	SortKey      string `json:"sortKey,omitempty"`
	// Attributes are the key attributes of the table and its indexes with
	// their types, each once, ordered by name: what DynamoDB wants as
	// attribute definitions.
	Attributes []Attribute `json:"attributes"`
	Indexes    []Index     `json:"indexes"`
	TTL        string      `json:"ttl,omitempty"`    // attribute holding the expiry; "" for none
	Stream     string      `json:"stream,omitempty"` // stream view type; "" for none
}

// Attribute is a key attribute and its DynamoDB scalar type.
type Attribute struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Index is a global secondary index.
type Index struct {
	Name         string `json:"name"`
	PartitionKey string `json:"partitionKey"`
	SortKey      string `json:"sortKey,omitempty"`
	Projection   string `json:"projection"`
}

// Function is one function with its role, log group and trigger.
type Function struct {
	Name         string `json:"name"` // the manifest name, <service>-<op>; also its artifact's name
	Service      string `json:"service"`
	Kind         string `json:"kind"`
	FunctionName string `json:"functionName"`
	Description  string `json:"description"`

	Runtime     string            `json:"runtime"`
	Handler     string            `json:"handler"`
	MemoryMB    int               `json:"memory"`
	TimeoutSecs int               `json:"timeout"`
	Tracing     string            `json:"tracing"`
	LogFormat   string            `json:"logFormat"`
	LogGroup    string            `json:"logGroup"`
	Environment map[string]string `json:"environment"`
	// HashesPasswords: the function's route takes the deployment's tighter
	// throttling and the function its own reserved concurrency
	// (manifest.Function.HashesPasswords).
	HashesPasswords bool `json:"hashesPasswords"`
	// LocalOnly: part of a simulator of an outside system (the payment
	// provider's), deployed only where the simulator is.
	LocalOnly bool `json:"localOnly"`
	// Bindings are environment variables whose value the target fills in
	// (BindingAPIURL, BindingPaymentProviderURL, BindingQueueURL,
	// BindingDeadLetterQueueURL), by variable name; they are not in
	// Environment.
	Bindings map[string]string `json:"bindings,omitempty"`

	Role Role `json:"role"`

	// Route is the API route of an http function; nil otherwise.
	Route *Route `json:"route,omitempty"`
	// Consumer is the rule, queues and mapping of an event consumer (kind
	// event); nil otherwise.
	Consumer *Consumer `json:"consumer,omitempty"`
	// Relay is the stream mapping of an outbox relay (kind stream); nil
	// otherwise.
	Relay *Relay `json:"relay,omitempty"`
}

// RolePolicyName names the one inline policy of every role of the model.
const RolePolicyName = "least-privilege"

// Role is the function's own execution role, holding exactly what its
// manifest asks for.
type Role struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// PolicyName names the one inline policy.
	PolicyName string `json:"policyName"`
	Trust      Policy `json:"trust"`
	Policy     Policy `json:"policy"`
}

// Route is an HTTP API route to a function's AWS_PROXY integration.
type Route struct {
	RouteKey string `json:"routeKey"` // "GET /v1/users/{id}"
	Method   string `json:"method"`
	Path     string `json:"path"`
	Auth     string `json:"auth"` // the manifest's level: none, user, scope:<s>
	// AuthorizationType is NONE for open routes and CUSTOM (the stack's
	// authorizer) for every other.
	AuthorizationType string `json:"authorizationType"`
	// InvokeSource is the tail of the execute-api ARN API Gateway invokes
	// the function as for this route, on any stage:
	// "*/GET/v1/users/*". The grant is <api execution ARN>/<InvokeSource>.
	InvokeSource string `json:"invokeSource"`
	// PermissionID is the statement id of the grant on the function's
	// resource policy that lets API Gateway invoke it for this route.
	PermissionID string `json:"permissionId"`
}

// HTTPAPI is the stack's one HTTP API.
type HTTPAPI struct {
	Name                 string `json:"name"`
	Description          string `json:"description"`
	Stage                string `json:"stage"`
	PayloadFormatVersion string `json:"payloadFormatVersion"`
	// AccessLogGroup receives one AccessLogFormat line per request.
	AccessLogGroup  string `json:"accessLogGroup"`
	AccessLogFormat string `json:"accessLogFormat"`
	// Authorizer is the stack's one Lambda authorizer; nil when the
	// manifests declare none (and then every route is open).
	Authorizer *Authorizer `json:"authorizer,omitempty"`
	// CORS is the API's CORS configuration but for its allowed origins,
	// which the target adds (cors.go); without origins it has none.
	CORS *CORS `json:"cors"`
}

// Authorizer is a REQUEST authorizer, payload 2.0, with simple responses:
// {"isAuthorized": bool, "context": {...}} rather than an IAM policy, since
// it only authenticates and has no per-route decision to express.
type Authorizer struct {
	Name            string   `json:"name"`
	Function        string   `json:"function"` // manifest name
	Type            string   `json:"type"`
	PayloadVersion  string   `json:"payloadVersion"`
	SimpleResponses bool     `json:"simpleResponses"`
	IdentitySources []string `json:"identitySources"`
	TTLSeconds      int      `json:"ttlSeconds"`
	// PermissionID is the statement id of the grant that lets API Gateway
	// invoke the authorizer's function as this authorizer.
	PermissionID string `json:"permissionId"`
}

// Issuer is a token issuer: a service that declares tokens, or the operator.
type Issuer struct {
	Service           string              `json:"service"`
	Issuer            string              `json:"issuer"`
	SigningSecret     string              `json:"signingSecret"`
	SecretDescription string              `json:"secretDescription"`
	Policy            servicetoken.Policy `json:"-"` // published by keytool or the deployer, not by Terraform
}

// Build makes the model of set deployed with p.
func Build(set *manifest.Set, p Params) (*Deployment, error) {
	if p.Prefix == "" || p.Region == "" || p.Account == "" {
		return nil, fmt.Errorf("deployment: prefix, region and account are required (have %+v)", p)
	}
	if p.Partition == "" {
		p.Partition = "aws"
	}
	if p.PaymentProviderSecret == "" {
		p.PaymentProviderSecret = naming.PaymentProviderSecret(p.Prefix)
	}
	d := &Deployment{
		Prefix:        p.Prefix,
		Settings:      DefaultSettings(),
		JWKSParameter: naming.JWKSParameter(p.Prefix),
		Artifacts:     Artifacts{Bucket: naming.ArtifactsBucket(p.Prefix, p.Account, p.Region), KeyPrefix: ArtifactKeyPrefix},
		API: HTTPAPI{
			Name:                 naming.API(p.Prefix),
			Description:          "Public HTTP API of " + naming.API(p.Prefix) + ": one route per http function manifest.",
			Stage:                Stage,
			PayloadFormatVersion: PayloadFormatVersion,
			AccessLogGroup:       naming.AccessLogGroup(p.Prefix),
			AccessLogFormat:      AccessLogFormat,
		},
	}
	for _, svc := range set.Services {
		t, err := table(p, svc)
		if err != nil {
			return nil, err
		}
		t.LocalOnly = svc.LocalOnly
		d.Tables = append(d.Tables, t)
	}
	for _, iss := range set.Issuers() {
		d.Issuers = append(d.Issuers, Issuer{
			Service:           iss.Service,
			Issuer:            naming.Issuer(p.Prefix, iss.Service),
			SigningSecret:     naming.SigningSecret(p.Prefix, iss.Service),
			SecretDescription: keystore.SecretDescription(naming.Issuer(p.Prefix, iss.Service)),
			Policy:            iss.Policy,
		})
	}
	auth := set.Authorizer()
	if auth != nil {
		d.API.Authorizer = &Authorizer{
			Name:            naming.Authorizer(p.Prefix),
			Function:        auth.Name,
			Type:            "REQUEST",
			PayloadVersion:  PayloadFormatVersion,
			SimpleResponses: true,
			IdentitySources: []string{AuthorizerIdentity},
			TTLSeconds:      AuthorizerTTL,
			PermissionID:    AuthorizerPermissionID,
		}
	}
	d.EventBus = eventBus(p, set)
	for _, fn := range set.Functions() {
		f := Function{
			Name:         fn.Name,
			Service:      fn.Service,
			Kind:         fn.Kind,
			FunctionName: naming.Function(p.Prefix, fn.Name),
			Description:  fn.Description,
			Runtime:      Runtime,
			Handler:      Handler,
			MemoryMB:     fn.MemoryMB,
			TimeoutSecs:  fn.TimeoutSecs,
			Tracing:      Tracing,
			LogFormat:    LogFormat,
			LogGroup:     naming.LogGroup(p.Prefix, fn.Name),
			Environment:  manifest.Environment(p.Prefix, fn),

			HashesPasswords: fn.HashesPasswords,
			LocalOnly:       set.Service(fn.Service).LocalOnly,
		}
		for _, name := range fn.Permissions.StartExecution {
			f.Environment[manifest.EnvStateMachine(name)] = stateMachineARN(p, fn.Service, name)
		}
		if len(fn.Permissions.Calls) > 0 {
			f.bind(manifest.EnvAPIURL, BindingAPIURL)
		}
		if fn.Permissions.PaymentProvider {
			f.Environment[manifest.EnvPaymentProviderSecret] = p.PaymentProviderSecret
			f.bind(manifest.EnvPaymentProviderURL, BindingPaymentProviderURL)
			if d.PaymentProvider == nil {
				d.PaymentProvider = &PaymentProvider{
					Secret:            p.PaymentProviderSecret,
					SecretDescription: "Credentials of the payment provider the payments service charges through, as JSON {\"apiKey\": \"...\"}.",
					Simulator:         []string{},
					SimulatorPath:     PaymentSimulatorPath,
				}
			}
			if f.LocalOnly {
				d.PaymentProvider.Simulator = append(d.PaymentProvider.Simulator, fn.Name)
			}
		}
		if err := events(p, set, fn, &f); err != nil {
			return nil, err
		}
		f.Role = Role{
			Name:        f.FunctionName,
			Description: "Runs " + f.FunctionName,
			PolicyName:  RolePolicyName,
			Trust:       trustPolicy(),
			Policy:      functionPolicy(p, fn),
		}
		if fn.HTTP != nil {
			f.Route = &Route{
				RouteKey:          fn.HTTP.RouteKey(),
				Method:            fn.HTTP.Method,
				Path:              fn.HTTP.Path,
				Auth:              fn.HTTP.Auth,
				AuthorizationType: "NONE",
				InvokeSource:      "*/" + fn.HTTP.InvokeResource(),
				PermissionID:      RoutePermissionID,
			}
			if fn.HTTP.Auth != manifest.AuthNone {
				// manifest.Load refuses a protected route without an
				// authorizer, so this never makes an open route.
				f.Route.AuthorizationType = "CUSTOM"
			}
		}
		d.Functions = append(d.Functions, f)
	}
	d.API.CORS = cors(d.Functions)
	d.StateMachines = []StateMachine{}
	for _, sm := range set.StateMachines() {
		m, err := stateMachine(p, sm)
		if err != nil {
			return nil, err
		}
		d.StateMachines = append(d.StateMachines, m)
	}
	obs, err := observability(p, set, d)
	if err != nil {
		return nil, err
	}
	d.Observability = obs
	return d, nil
}

// stateMachine models sm, with its steps' ARNs in the definition.
func stateMachine(p Params, sm *manifest.StateMachine) (StateMachine, error) {
	def := manifest.StepRef.ReplaceAllStringFunc(sm.Source, func(ref string) string {
		return functionARN(p, manifest.StepRef.FindStringSubmatch(ref)[1])
	})
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(def)); err != nil {
		return StateMachine{}, fmt.Errorf("deployment: state machine %s-%s: %w", sm.Service, sm.Name, err)
	}
	name := naming.StateMachine(p.Prefix, sm.Service, sm.Name)
	return StateMachine{
		Name:             sm.Service + "-" + sm.Name,
		Service:          sm.Service,
		StateMachineName: name,
		ARN:              stateMachineARN(p, sm.Service, sm.Name),
		Description:      sm.Description,
		Type:             "STANDARD",
		Definition:       compact.String(),
		Steps:            slices.Clone(sm.Steps),
		LogGroup:         naming.StateMachineLogGroup(p.Prefix, sm.Service, sm.Name),
		LogLevel:         "ERROR",
		Tracing:          true,
		Role: Role{
			Name:        name,
			Description: "Runs the state machine " + name,
			PolicyName:  RolePolicyName,
			Trust:       StateMachineTrust(),
			Policy:      stateMachinePolicy(p, sm),
		},
	}, nil
}

// StateMachine returns the named state machine (<service>-<name>), or nil.
func (d *Deployment) StateMachine(name string) *StateMachine {
	for i := range d.StateMachines {
		if d.StateMachines[i].Name == name {
			return &d.StateMachines[i]
		}
	}
	return nil
}

// Template is the model with Placeholders for prefix, region, account and
// partition: what infra/deployment.json holds.
func Template(set *manifest.Set) (*Deployment, error) { return Build(set, Placeholders) }

// Function returns the named function (manifest name), or nil.
func (d *Deployment) Function(name string) *Function {
	for i := range d.Functions {
		if d.Functions[i].Name == name {
			return &d.Functions[i]
		}
	}
	return nil
}

// Routes returns the http functions, ordered by name.
func (d *Deployment) Routes() []*Function {
	var out []*Function
	for i := range d.Functions {
		if d.Functions[i].Route != nil {
			out = append(out, &d.Functions[i])
		}
	}
	return out
}

func table(p Params, svc *manifest.Service) (Table, error) {
	t := svc.Table
	name := naming.Table(p.Prefix, svc.Name)
	out := Table{
		Service:      svc.Name,
		Name:         name,
		ARN:          tableARN(p, name),
		PartitionKey: t.PartitionKey.Name,
		TTL:          t.TTL,
		Stream:       t.Stream,
		Indexes:      []Index{},
	}
	// DynamoDB wants one definition per key attribute of the table and its
	// indexes; an index may reuse a table key, but with the same type.
	types := map[string]string{}
	var conflicts []string
	key := func(k manifest.Key) {
		if have, ok := types[k.Name]; ok && have != k.Type {
			conflicts = append(conflicts, fmt.Sprintf("%s is %s and %s", k.Name, have, k.Type))
		}
		types[k.Name] = k.Type
	}
	key(t.PartitionKey)
	if t.SortKey != nil {
		out.SortKey = t.SortKey.Name
		key(*t.SortKey)
	}
	for _, ix := range t.Indexes {
		x := Index{Name: ix.Name, PartitionKey: ix.PartitionKey.Name, Projection: ix.Projection}
		key(ix.PartitionKey)
		if ix.SortKey != nil {
			x.SortKey = ix.SortKey.Name
			key(*ix.SortKey)
		}
		out.Indexes = append(out.Indexes, x)
	}
	if len(conflicts) > 0 {
		return Table{}, fmt.Errorf("deployment: table %s (%s/service.yaml): a key attribute has two types: %v", name, svc.Dir, conflicts)
	}
	for _, name := range slices.Sorted(maps.Keys(types)) {
		out.Attributes = append(out.Attributes, Attribute{Name: name, Type: types[name]})
	}
	sort.Slice(out.Indexes, func(i, j int) bool { return out.Indexes[i].Name < out.Indexes[j].Name })
	return out, nil
}

// Notice heads every generated file: where it comes from and how to remake it.
const Notice = "Generated from functions/*/service.yaml and functions/*/*/function.yaml by `make generate` (infra/generate); do not edit."

// JSON is the model as infra/deployment.json holds it: indented, in a fixed
// order, ending in a newline, headed by Notice.
func (d *Deployment) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // ARN patterns and route keys stay readable
	enc.SetIndent("", "  ")
	err := enc.Encode(struct {
		Notice string `json:"//"`
		*Deployment
	}{Notice, d})
	return buf.Bytes(), err
}

// KnativeTrustedProxies are the addresses a Knative cluster's own proxies
// (ingress gateway, activator) reach a container from: the private ranges
// pod networks are drawn from. runtime.ClientIP looks through them to the
// client's address. Narrow it to the cluster's pod CIDR where that is
// known: a client inside these ranges counts as a proxy, and the address
// it claims in X-Forwarded-For is then believed.
const KnativeTrustedProxies = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

// KnativeEnvironment is the function's environment on Knative: the model's,
// and the proxies runtime.ClientIP looks through (nothing stands between a
// client and a Lambda function but API Gateway, which hands over the
// client's address itself).
func (f *Function) KnativeEnvironment() map[string]string {
	env := maps.Clone(f.Environment)
	env[runtime.EnvTrustedProxies] = KnativeTrustedProxies
	return env
}
