// Package livediff reads back from a running emulator (or AWS) everything a
// shop stack deployed, and tells two stacks apart: it proves that the local
// deployer (localstack/deploy) and Terraform (infra/) deploy the same stack,
// differing only in the prefix.
//
//	cfg, err := awsconfig.Load(ctx) // AWS_ENDPOINT_URL: the emulator
//	local, err := livediff.Snapshot(ctx, cfg, cmp.Or(os.Getenv("SHOP_PREFIX"), "shop")) // the deployer's stack
//	tf, err := livediff.Snapshot(ctx, cfg, tfPrefix)                                   // Terraform's, same emulator
//	for _, line := range livediff.Diff(local, tf) {
//		t.Error(line) // "function users-get: memory 128 vs 256"; a is local, b is tf
//	}
//
// Snapshot takes a few tens of milliseconds for today's stack on MiniStack.
// Take both snapshots after both stacks are complete (Terraform's keys
// written by infra/keytool), since a snapshot lists what is there.
//
// Snapshot lists, rather than looks up the expected names, so an extra
// resource shows: every DynamoDB table, Lambda function, IAM role, HTTP API,
// Secrets Manager secret, SSM parameter, CloudWatch log group, EventBridge
// bus, archive and rule (on the stack's buses), and SQS queue whose name
// is the stack's (the prefix as its first name part: "shop-users",
// "shop/signing/users", "/shop/jwks", "/aws/lambda/shop-users-get"; not
// "workshop-users"). When another stack's prefix extends this one with a
// dash ("shop-tf" beside "shop"), its names are left out: stacks are found
// by their functions' SHOP_PREFIX and their /<prefix>/jwks parameters, so
// a half-deleted stack with neither left would be taken for part of the
// shorter one. A prefix that does not extend the other ("shoptf") avoids
// the question.
//
// What is read, per resource (the State types say it field by field):
// tables with key schema, attribute definitions, indexes, TTL, stream,
// billing, point-in-time recovery, encryption and deletion protection;
// functions with runtime, handler, memory, timeout, ephemeral storage,
// environment, tracing, logging, description, role, reserved concurrency,
// layers and resource policy; roles with trust policy, every inline policy
// and attached managed policies; log groups with retention; HTTP APIs with
// stages (auto-deploy, throttling, access logs), routes (authorization,
// authorizer by name, target function), integrations, authorizers and CORS;
// secrets by name and description (never a value: the payment provider's
// secret, <prefix>/payment-provider, is compared by existence and
// description); parameters by name and type (never a value); state
// machines with type, definition (canonical JSON, its step ARNs
// normalised), role, logging and tracing (their roles and log groups are
// among the roles and log groups); event buses with description, resource
// policy, dead-letter target, encryption and log config; archives with
// source, description, pattern, retention and state (not their event
// counts); rules with bus, pattern (canonical JSON), schedule, state, role
// and each target by id (ARN, input, input path and transformer, message
// group, retry policy, dead-letter target); queues with every attribute
// that configures them (visibility, retention, size, delay, wait,
// encryption, FIFO settings, redrive target and count, redrive allow
// policy, policy by meaning; not the counts, timestamps or ARN); and
// every event source mapping of the stack's functions, keyed by function
// and source, with state, batch size and window, starting position,
// filters, response types, maximum concurrency, bisect, retry attempts,
// record age, parallelization, tumbling window and on-failure destination;
// SNS topics with display name, key and FIFO (not their subscribers); and
// the dashboard (named the prefix) with its body as canonical JSON. Not
// the alarms: Terraform creates none on the emulator (readObservability).
// MiniStack 1.5.33 reports all of these as set: a bus without a policy,
// dead-letter target, key or log config, and a mapping's parallelization
// and tumbling window, read as unset on both sides alike; its archives
// have no KMS key field, and its rules no role, so neither is exercised
// there.
//
// The two states are normalised before they are compared (normalise.go):
// the prefix, where it stands as a whole name part, becomes {prefix}; the
// account in ARNs {account}; a secret ARN's random suffix {suffix}; a table
// stream's label (when it was made) {stream} (events.go); API,
// authorizer, integration and route ids tokens naming what they identify
// ({api}, {authorizer}, {integration:{prefix}-users-get}, ...). Policies compare by
// meaning (Policy). Timestamps, revision ids and versions are not read.
//
// Read but left out of Diff, because they differ legitimately:
//   - code size and SHA-256: the deployer and Terraform zip the same
//     binaries separately, and a zip's bytes carry file times and order; the
//     code is proven by the end-to-end suite run against each stack;
//   - tags: Terraform adds default and per-service tags, the deployer none,
//     and nothing in the stack reads them (no policy conditions on tags);
//   - architectures: the emulator ignores the setting and runs whatever the
//     zip holds, so both deploy the host's architecture there, while
//     Terraform's default for AWS is arm64;
//   - integration and authorizer URIs as written: a function ARN and the
//     function's invocation URI mean the same to API Gateway, and the
//     function they name is compared instead;
//   - a KMS key's ARN: its id is the cloud's; whether a key is used is
//     compared.
//
// Everything else that differs is a finding. A new kind of resource is one
// more field of State and one more reader in Snapshot; Diff and the
// normaliser walk State by reflection and need no change.
package livediff

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// State is what one stack deployed, normalised. Every map is keyed by the
// resource's normalised name ("{prefix}-users-get"). The diff tag of each
// field is how Diff names it; "-" leaves it out of Diff.
type State struct {
	Prefix string `json:"prefix" diff:"-"`

	Tables     map[string]Table     `json:"tables" diff:"table"`
	Functions  map[string]Function  `json:"functions" diff:"function"`
	Roles      map[string]Role      `json:"roles" diff:"role"`
	LogGroups  map[string]LogGroup  `json:"logGroups" diff:"log group"`
	APIs       map[string]API       `json:"apis" diff:"api"`
	Secrets    map[string]Secret    `json:"secrets" diff:"secret"`
	Parameters map[string]Parameter `json:"parameters" diff:"parameter"`

	StateMachines map[string]StateMachine `json:"stateMachines" diff:"state machine"`

	EventBuses map[string]EventBus `json:"eventBuses" diff:"event bus"`
	Archives   map[string]Archive  `json:"archives" diff:"archive"`
	Rules      map[string]Rule     `json:"rules" diff:"rule"`
	Queues     map[string]Queue    `json:"queues" diff:"queue"`
	Mappings   map[string]Mapping  `json:"mappings" diff:"event source mapping"`

	Topics     map[string]Topic     `json:"topics" diff:"topic"`
	Dashboards map[string]Dashboard `json:"dashboards" diff:"dashboard"`
}

// Table is a DynamoDB table.
type Table struct {
	KeySchema  string            `json:"keySchema" diff:"key schema"` // "pk HASH, sk RANGE"
	Attributes map[string]string `json:"attributes" diff:"attribute"` // name -> S, N or B
	Indexes    map[string]Index  `json:"indexes" diff:"index"`
	// LocalIndexes are the local secondary indexes.
	LocalIndexes map[string]Index `json:"localIndexes" diff:"local index"`
	TTL          string           `json:"ttl" diff:"ttl"`       // the expiry attribute, or "off"
	Stream       string           `json:"stream" diff:"stream"` // the view type, or "off"
	BillingMode  string           `json:"billingMode" diff:"billing mode"`
	// Throughput is "<read>/<write>" for a provisioned table, "" on demand.
	Throughput          string `json:"throughput,omitempty" diff:"throughput"`
	PointInTimeRecovery string `json:"pointInTimeRecovery" diff:"point-in-time recovery"`
	// Encryption is "default" (an AWS-owned key) or the SSE type and status.
	Encryption         string            `json:"encryption" diff:"encryption"`
	EncryptionKey      string            `json:"encryptionKey,omitempty" diff:"-"`
	DeletionProtection bool              `json:"deletionProtection" diff:"deletion protection"`
	TableClass         string            `json:"tableClass,omitempty" diff:"table class"`
	Tags               map[string]string `json:"tags,omitempty" diff:"-"`
}

// Index is a secondary index.
type Index struct {
	KeySchema  string `json:"keySchema" diff:"key schema"`
	Projection string `json:"projection" diff:"projection"` // "ALL", "KEYS_ONLY", "INCLUDE a, b"
	Throughput string `json:"throughput,omitempty" diff:"throughput"`
}

// Function is a Lambda function's configuration and resource policy.
type Function struct {
	Description        string            `json:"description" diff:"description"`
	Runtime            string            `json:"runtime" diff:"runtime"`
	Handler            string            `json:"handler" diff:"handler"`
	PackageType        string            `json:"packageType" diff:"package type"`
	MemoryMB           int32             `json:"memory" diff:"memory"`
	TimeoutSecs        int32             `json:"timeout" diff:"timeout"`
	EphemeralStorageMB int32             `json:"ephemeralStorage" diff:"ephemeral storage"`
	Environment        map[string]string `json:"environment" diff:"environment"`
	Tracing            string            `json:"tracing" diff:"tracing"`
	LogFormat          string            `json:"logFormat" diff:"log format"`
	LogGroup           string            `json:"logGroup" diff:"log group"`
	AppLogLevel        string            `json:"applicationLogLevel,omitempty" diff:"application log level"`
	SystemLogLevel     string            `json:"systemLogLevel,omitempty" diff:"system log level"`
	Role               string            `json:"role" diff:"role"` // the role's name
	// ReservedConcurrency is the number reserved, or "unreserved".
	ReservedConcurrency string   `json:"reservedConcurrency" diff:"reserved concurrency"`
	Layers              []string `json:"layers,omitempty" diff:"layers"`
	DeadLetterTarget    string   `json:"deadLetterTarget,omitempty" diff:"dead-letter target"`
	KMSKey              string   `json:"kmsKey,omitempty" diff:"kms key"`
	// Policy is the function's resource policy: who may invoke it, from
	// which source ARN.
	Policy Policy `json:"policy" diff:"resource policy"`

	Architectures []string          `json:"architectures" diff:"-"`
	CodeSize      int64             `json:"codeSize" diff:"-"`
	CodeSHA256    string            `json:"codeSha256" diff:"-"`
	Tags          map[string]string `json:"tags,omitempty" diff:"-"`
}

// Role is an IAM role with its policies.
type Role struct {
	Path                string            `json:"path" diff:"path"`
	Description         string            `json:"description" diff:"description"`
	MaxSessionSecs      int32             `json:"maxSessionDuration" diff:"max session duration"`
	PermissionsBoundary string            `json:"permissionsBoundary,omitempty" diff:"permissions boundary"`
	Trust               Policy            `json:"trust" diff:"trust policy"`
	Inline              map[string]Policy `json:"inline" diff:"inline policy"`
	Managed             map[string]bool   `json:"managed,omitempty" diff:"managed policy"` // ARN -> attached
	Tags                map[string]string `json:"tags,omitempty" diff:"-"`
}

// LogGroup is a CloudWatch Logs group.
type LogGroup struct {
	// RetentionDays is 0 when events never expire.
	RetentionDays int32  `json:"retentionDays" diff:"retention days"`
	Class         string `json:"class,omitempty" diff:"class"`
	Encrypted     bool   `json:"encrypted" diff:"encrypted"`
	KMSKey        string `json:"kmsKey,omitempty" diff:"-"`
}

// API is an API Gateway v2 API with what hangs off it.
type API struct {
	Protocol                  string `json:"protocol" diff:"protocol"`
	Description               string `json:"description" diff:"description"`
	RouteSelection            string `json:"routeSelection" diff:"route selection expression"`
	DisableExecuteAPIEndpoint bool   `json:"disableExecuteApiEndpoint" diff:"execute-api endpoint disabled"`
	CORS                      string `json:"cors,omitempty" diff:"cors"` // canonical JSON

	Stages       map[string]Stage       `json:"stages" diff:"stage"`
	Routes       map[string]Route       `json:"routes" diff:"route"` // by route key
	Integrations map[string]Integration `json:"integrations" diff:"integration"`
	Authorizers  map[string]Authorizer  `json:"authorizers" diff:"authorizer"` // by name
	Tags         map[string]string      `json:"tags,omitempty" diff:"-"`
}

// Stage is an API stage.
type Stage struct {
	AutoDeploy  bool   `json:"autoDeploy" diff:"auto-deploy"`
	Description string `json:"description" diff:"description"`
	// DefaultRouteSettings and RouteSettings (by route key) are canonical
	// JSON: throttling, detailed metrics.
	DefaultRouteSettings string            `json:"defaultRouteSettings" diff:"default route settings"`
	RouteSettings        map[string]string `json:"routeSettings,omitempty" diff:"route settings"`
	AccessLogDestination string            `json:"accessLogDestination,omitempty" diff:"access log destination"`
	AccessLogFormat      string            `json:"accessLogFormat,omitempty" diff:"access log format"`
	Variables            map[string]string `json:"variables,omitempty" diff:"variable"`
	Tags                 map[string]string `json:"tags,omitempty" diff:"-"`
}

// Route is a route of an API, keyed by route key.
type Route struct {
	AuthorizationType   string   `json:"authorizationType" diff:"authorization type"`
	Authorizer          string   `json:"authorizer,omitempty" diff:"authorizer"` // by name
	AuthorizationScopes []string `json:"authorizationScopes,omitempty" diff:"authorization scopes"`
	APIKeyRequired      bool     `json:"apiKeyRequired" diff:"api key required"`
	OperationName       string   `json:"operationName,omitempty" diff:"operation name"`
	// Target is "integration <key>" for an integration target (its key in
	// API.Integrations, the function it calls), the raw target otherwise.
	Target string `json:"target" diff:"target"`
}

// Integration is an API integration, keyed by the function it invokes (or
// its URI when that is no function).
type Integration struct {
	Type              string            `json:"type" diff:"type"`
	Method            string            `json:"method" diff:"method"`
	PayloadVersion    string            `json:"payloadVersion" diff:"payload version"`
	Function          string            `json:"function" diff:"function"`
	URI               string            `json:"uri" diff:"-"`
	ConnectionType    string            `json:"connectionType" diff:"connection type"`
	TimeoutMillis     int32             `json:"timeoutMillis" diff:"timeout ms"`
	Credentials       string            `json:"credentials,omitempty" diff:"credentials"`
	Description       string            `json:"description,omitempty" diff:"description"`
	RequestParameters map[string]string `json:"requestParameters,omitempty" diff:"request parameter"`
}

// Authorizer is an API authorizer, keyed by name.
type Authorizer struct {
	Type            string   `json:"type" diff:"type"`
	PayloadVersion  string   `json:"payloadVersion" diff:"payload version"`
	SimpleResponses bool     `json:"simpleResponses" diff:"simple responses"`
	IdentitySource  []string `json:"identitySource" diff:"identity source"`
	TTLSeconds      int32    `json:"ttlSeconds" diff:"ttl"`
	Function        string   `json:"function" diff:"function"`
	URI             string   `json:"uri" diff:"-"`
	Credentials     string   `json:"credentials,omitempty" diff:"credentials"`
	// JWT is the issuer and audience of a JWT authorizer. The emulator
	// returns an empty configuration for REQUEST authorizers, which reads
	// as "".
	JWT string `json:"jwt,omitempty" diff:"jwt"`
}

// Secret is a Secrets Manager secret: its name and settings, never a value.
type Secret struct {
	Description string            `json:"description" diff:"description"`
	Encrypted   bool              `json:"encrypted" diff:"customer key"`
	KMSKey      string            `json:"kmsKey,omitempty" diff:"-"`
	Rotation    bool              `json:"rotation" diff:"rotation"`
	Tags        map[string]string `json:"tags,omitempty" diff:"-"`
}

// Parameter is an SSM parameter: its name and settings, never a value.
type Parameter struct {
	Type        string `json:"type" diff:"type"`
	DataType    string `json:"dataType" diff:"data type"`
	Tier        string `json:"tier" diff:"tier"`
	Description string `json:"description" diff:"description"`
}

// clients are the API clients Snapshot reads with.
type clients struct {
	ddb    *dynamodb.Client
	lambda *lambda.Client
	iam    *iam.Client
	logs   *cloudwatchlogs.Client
	apigw  *apigatewayv2.Client
	sm     *secretsmanager.Client
	ssm    *ssm.Client
	sfn    *sfn.Client
	events *eventbridge.Client
	sqs    *sqs.Client
	sns    *sns.Client
	cw     *cloudwatch.Client
}

// snapshot is one Snapshot in progress: the raw state the readers fill in
// (each its own fields of s), and the normaliser, which learns the ids the
// readers find and rewrites the whole state once they are done.
type snapshot struct {
	clients
	n *normaliser
	s *State

	// Every function and parameter on the emulator, listed once by
	// discover: they tell which other stacks are there.
	allFunctions  []ltypes.FunctionConfiguration
	allParameters []ssmtypes.ParameterMetadata
}

// discover lists every function and parameter and returns the prefixes of
// the stacks they belong to: a function's SHOP_PREFIX, a /<prefix>/jwks
// parameter's prefix.
func (sn *snapshot) discover(ctx context.Context) ([]string, error) {
	var prefixes []string
	fp := lambda.NewListFunctionsPaginator(sn.lambda, &lambda.ListFunctionsInput{})
	for fp.HasMorePages() {
		out, err := fp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		for _, f := range out.Functions {
			sn.allFunctions = append(sn.allFunctions, f)
			if f.Environment != nil && f.Environment.Variables[prefixVariable] != "" {
				prefixes = append(prefixes, f.Environment.Variables[prefixVariable])
			}
		}
	}
	pp := ssm.NewDescribeParametersPaginator(sn.ssm, &ssm.DescribeParametersInput{})
	for pp.HasMorePages() {
		out, err := pp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list parameters: %w", err)
		}
		for _, p := range out.Parameters {
			sn.allParameters = append(sn.allParameters, p)
			if stack, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(p.Name), "/"), "/jwks"); ok {
				prefixes = append(prefixes, stack)
			}
		}
	}
	return prefixes, nil
}

// prefixVariable is the environment variable every shop function carries
// its stack's prefix in (manifest.Environment).
const prefixVariable = "SHOP_PREFIX"

// reader fills in one kind of resource.
type reader func(ctx context.Context, sn *snapshot) error

// readers are every kind Snapshot reads; later kinds add one each. The
// event source mappings (readEvents) are read per function, after them.
var readers = []reader{readTables, readFunctions, readRoles, readLogGroups, readAPIs, readSecrets, readParameters, readStateMachines, readEvents, readObservability}

// Snapshot reads everything the stack of prefix deployed, through cfg
// (shared/awsconfig.Load, with AWS_ENDPOINT_URL for the emulator), and
// returns it normalised.
func Snapshot(ctx context.Context, cfg aws.Config, prefix string) (*State, error) {
	if prefix == "" {
		return nil, errors.New("livediff: empty prefix")
	}
	c := clients{
		ddb:    dynamodb.NewFromConfig(cfg),
		lambda: lambda.NewFromConfig(cfg),
		iam:    iam.NewFromConfig(cfg),
		logs:   cloudwatchlogs.NewFromConfig(cfg),
		apigw:  apigatewayv2.NewFromConfig(cfg),
		sm:     secretsmanager.NewFromConfig(cfg),
		ssm:    ssm.NewFromConfig(cfg),
		sfn:    sfn.NewFromConfig(cfg),
		events: eventbridge.NewFromConfig(cfg),
		sqs:    sqs.NewFromConfig(cfg),
		sns:    sns.NewFromConfig(cfg),
		cw:     cloudwatch.NewFromConfig(cfg),
	}
	sn := &snapshot{clients: c, s: &State{Prefix: prefix}}
	stacks, err := sn.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("livediff: snapshot %s: %w", prefix, err)
	}
	sn.n = newNormaliser(prefix, stacks)
	// One kind after the other, each a few resources at a time: the whole
	// stack reads in well under a second, and an emulator shared with
	// parallel tests is not flooded (MiniStack under load loses responses).
	for _, read := range readers {
		if err := read(ctx, sn); err != nil {
			return nil, fmt.Errorf("livediff: snapshot %s: %w", prefix, err)
		}
	}
	return sn.n.state(sn.s), nil
}

// forEach runs fn for each item, a few at a time, and joins the errors.
func forEach[T any](items []T, fn func(T) error) error {
	const parallel = 4
	errs := make([]error, len(items))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(it)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// kindOf names a State field's resources in Diff ("function").
func kindOf(f reflect.StructField) string { return f.Tag.Get("diff") }
