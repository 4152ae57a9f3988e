// Package naming derives every physical name of a deployment from its prefix
// and the manifests' logical names, so the deployer, Terraform and the
// functions agree without more configuration.
//
//	naming.Table("shop", "users") // "shop-users"
//
// It imports nothing, so functions can use it without paying for the
// manifest loader at cold start.
package naming

// PlatformService owns shared platform state (circuit breakers) and the
// authorizer.
const PlatformService = "platform"

// Table is the physical table name of a service.
func Table(prefix, service string) string { return prefix + "-" + service }

// Function is the physical name of a function (manifest name <service>-<op>).
func Function(prefix, name string) string { return prefix + "-" + name }

// Issuer is the token issuer name of a service (or of "operator").
func Issuer(prefix, service string) string { return prefix + "-" + service }

// SigningSecret is the Secrets Manager secret holding an issuer's private keys.
func SigningSecret(prefix, service string) string { return prefix + "/signing/" + service }

// JWKSParameter is the SSM parameter holding every issuer's public keys.
func JWKSParameter(prefix string) string { return "/" + prefix + "/jwks" }

// Audience is the audience of tokens presented to the API.
func Audience(prefix string) string { return prefix + "-api" }

// UserTokenService is the service whose issuer mints user tokens (login):
// verifiers accept user tokens from naming.Issuer(prefix, UserTokenService)
// only, and manifest.Load refuses any other service declaring them.
const UserTokenService = "users"

// OperatorIssuer is the issuer of operator tokens (`make token`), which is
// not a service; no service may take its name.
const OperatorIssuer = "operator"

// API is the name of the stack's HTTP API.
func API(prefix string) string { return prefix + "-api" }

// Authorizer is the name of the HTTP API's one Lambda authorizer: after the
// stack, not after its function.
func Authorizer(prefix string) string { return prefix + "-authorizer" }

// LogGroup is the CloudWatch Logs group of a function (manifest name),
// where Lambda writes its logs.
func LogGroup(prefix, name string) string { return "/aws/lambda/" + Function(prefix, name) }

// AccessLogGroup is the CloudWatch Logs group of the HTTP API's access log.
func AccessLogGroup(prefix string) string { return "/aws/apigateway/" + API(prefix) + "/access" }

// BreakerKeyPrefix starts the partition key of every circuit breaker's item
// in the platform table (shared/breaker); the functions' IAM grant for
// breakers reaches only keys with it (shared/deployment).
const BreakerKeyPrefix = "BREAKER#"

// StateMachine is the physical name of a service's state machine (its
// manifest name, as declared in service.yaml).
func StateMachine(prefix, service, name string) string { return prefix + "-" + service + "-" + name }

// StateMachineLogGroup is where Step Functions writes a state machine's
// execution log: AWS wants a name under /aws/vendedlogs/ for the resource
// policy it keeps small.
func StateMachineLogGroup(prefix, service, name string) string {
	return "/aws/vendedlogs/states/" + StateMachine(prefix, service, name)
}

// PaymentProviderSecret is the default Secrets Manager secret holding the
// payment provider's credentials ({"apiKey": "..."}); Terraform can name
// another (variable payment_provider_secret_name).
func PaymentProviderSecret(prefix string) string { return prefix + "/payment-provider" }

// ArtifactsBucket is the S3 bucket Terraform delivers the functions' zips
// through. Bucket names are global across accounts, hence the account and
// the region in it (at most 63 characters: a 20-character prefix leaves
// room for the longest region).
func ArtifactsBucket(prefix, account, region string) string {
	return prefix + "-artifacts-" + account + "-" + region
}

// EventBus is the stack's one EventBridge custom bus; its archive has the
// same name.
func EventBus(prefix string) string { return prefix + "-events" }

// EventSource is the CloudEvents source (and EventBridge source) of every
// event a service of the stack publishes: "shop.orders". It does not carry
// the prefix: each stack has a bus of its own. Sources under "shop." are
// the stack's own; the ingest endpoint accepts none of them from outside.
func EventSource(service string) string { return EventSourcePrefix + service }

// EventSourcePrefix starts every source of the stack's own services.
const EventSourcePrefix = "shop."

// Rule is the EventBridge rule that feeds an event consumer (by manifest
// name) its events.
func Rule(prefix, name string) string { return prefix + "-" + name }

// Queue is the SQS queue between a consumer's rule and the consumer.
func Queue(prefix, name string) string { return prefix + "-" + name }

// DeadLetterQueue is where a consumer's queue moves a message that failed
// too often, and where a stream relay's failed records go.
func DeadLetterQueue(prefix, name string) string { return prefix + "-" + name + "-dlq" }
