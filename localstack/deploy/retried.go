package main

import (
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// Creates that survive a lost response.
//
// The SDK retries a call whose response it could not read. The emulator
// under load now and then applies a request and loses its response (DESIGN
// §7c), and AWS can after a network failure, so the retry of a create meets
// what its own first attempt made. The deployer makes each create safe to
// retry in one of two ways, whichever its API allows:
//
//   - an API that refuses a second create (a role, a function, a table, a
//     Lambda permission, a stage) answers "already exists": the deployer
//     then reads the resource back and carries on with it;
//   - an API that makes a second one (an HTTP API, an integration, a route,
//     an authorizer: API Gateway ids are random) answers the retry with a
//     new id: when the SDK sent the create more than once, the deployer
//     deletes every other resource of that name, keeping the one it was
//     told about, before anything refers to them.
//
// Deletes are done once the resource is gone: "not found" is success.

// sentMoreThanOnce reports whether the SDK sent the call whose result
// metadata is md more than once.
func sentMoreThanOnce(md middleware.Metadata) bool {
	results, ok := retry.GetAttemptResults(md)
	return ok && len(results.Results) > 1
}
