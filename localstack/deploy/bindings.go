package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	neturl "net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/paymentkey"
)

// Bindings and the payment provider.
//
// A function's bindings (deployment.Function.Bindings) are values that exist
// only once the stack does: the API's URL, and the payment provider's, which
// on the local stack is the simulator's on that same API; an event
// consumer's queue URL and a relay's dead-letter queue URL. The deployer
// therefore orders a run as
//
//	tables, issuers, provider secret -> the API alone (ensureAPI: its id,
//	hence its URL) -> the bus, its archive and the queues (their URLs) ->
//	functions, with their full environment -> state machines (which invoke
//	functions) -> the API's authorizer, integrations, routes, stage and
//	grants (which name functions) -> rules and event source mappings
//	(which name queues and functions)
//
// so every function is created once with its final environment and a second
// run finds nothing to change: no step waits for a later one to fill in a
// value it then has to update.

// bindingValues are the values of the functions' bindings on the local
// stack.
type bindingValues struct {
	// stack holds the bindings every function that names one sees alike,
	// by binding name.
	stack map[string]string
	// queues are the URLs of the stack's queues, by queue name: the value
	// of a queue binding depends on whose queue it is.
	queues map[string]string
	// traceDaemon is the local trace collector's address (localstack/xray),
	// every function's AWS_XRAY_DAEMON_ADDRESS; "" sets none.
	traceDaemon string
}

// stackBindings are the bindings of a local stack whose API is served at
// apiURL: the simulator is always deployed locally, so the provider's URL
// is the simulator's path on the stack's API; the trace collector listens
// on UDP 127.0.0.1 at the emulator's port number (localstack/ministack.sh).
func stackBindings(model *deployment.Deployment, apiURL string) bindingValues {
	values := map[string]string{deployment.BindingAPIURL: apiURL}
	if model.PaymentProvider != nil && len(model.PaymentProvider.Simulator) > 0 {
		values[deployment.BindingPaymentProviderURL] = apiURL + model.PaymentProvider.SimulatorPath
	}
	return bindingValues{stack: values, queues: map[string]string{}, traceDaemon: traceDaemonAddress(apiURL)}
}

// traceDaemonAddress is the address of the trace collector of the emulator
// that serves url (its API or its endpoint): UDP and TCP ports do not
// clash, so ministack.sh runs the collector on the gateway's port number,
// and a second emulator on another port has a collector of its own. ""
// when url names no port.
func traceDaemonAddress(url string) string {
	u, err := neturl.Parse(url)
	if err != nil || u.Port() == "" {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", u.Port())
}

// value is the value of binding in fn's environment, and false when the
// local stack has none.
func (b bindingValues) value(fn *deployment.Function, binding string) (string, bool) {
	queue := ""
	switch {
	case binding == deployment.BindingQueueURL && fn.Consumer != nil:
		queue = fn.Consumer.Queue.Name
	case binding == deployment.BindingDeadLetterQueueURL && fn.Relay != nil:
		queue = fn.Relay.DeadLetterQueue.Name
	default:
		v, ok := b.stack[binding]
		return v, ok
	}
	v, ok := b.queues[queue]
	return v, ok
}

// newSecretValue is the provider secret's value with a random key for the
// simulator: 256 bits of crypto/rand, as base32 text.
func newSecretValue() string { return paymentkey.SecretValue("sk_local_" + rand.Text() + rand.Text()) }

// ensurePaymentProviderSecret creates the payment provider's secret with a
// random API key when it is missing, and never touches a value that is
// there: the simulator and payments read the key at start, and a developer
// may have put a real sandbox key in it. Only the description follows the
// model.
func (d *deployer) ensurePaymentProviderSecret(ctx context.Context) error {
	pp := d.model.PaymentProvider
	if pp == nil {
		return nil
	}
	name := pp.Secret
	got, err := d.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
		_, err = d.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         &name,
			Description:  &pp.SecretDescription,
			SecretString: aws.String(newSecretValue()),
		})
		// Already exists: our own create, retried after a lost response
		// (retried.go); its value is the one the first attempt wrote.
		if err != nil && !awserr.HasCode(err, "ResourceExistsException") {
			return fmt.Errorf("payment provider secret %s: create: %w", name, err)
		}
		d.p.report("secret", name, statusCreated)
		return nil
	case err != nil:
		return fmt.Errorf("payment provider secret %s: describe: %w", name, err)
	}
	status := statusUnchanged
	if aws.ToString(got.Description) != pp.SecretDescription {
		if _, err := d.sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: &name, Description: &pp.SecretDescription}); err != nil {
			return fmt.Errorf("payment provider secret %s: update description: %w", name, err)
		}
		status = statusUpdated
	}
	// A secret without a value (made by hand, or by Terraform without the
	// simulator) gets one; a value is never overwritten.
	if _, err := d.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name}); awserr.HasCode(err, "ResourceNotFoundException") {
		if _, err := d.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String(newSecretValue())}); err != nil {
			return fmt.Errorf("payment provider secret %s: put value: %w", name, err)
		}
		status = statusUpdated
	} else if err != nil {
		return fmt.Errorf("payment provider secret %s: get value: %w", name, err)
	}
	d.p.report("secret", name, status)
	return nil
}
