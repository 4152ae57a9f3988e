// Command keytool is the operator's handle on the token signing keys
// (shared/servicetoken): it creates each issuer's keys, rotates and retires
// them, and mints operator tokens for scripts.
//
//	go run ./infra/keytool ensure                  # every issuer; idempotent: create + publish
//	go run ./infra/keytool rotate -services users  # prints the new kid
//	go run ./infra/keytool retire -service users -kid shop-users-20260301T120000-ab12
//	TOKEN=$(go run ./infra/keytool token -scopes 'inventory:write')
//
// The issuers, and what each may mint, come from the deployment model: the
// manifests under -manifests (the repository root by default; see
// manifest.Set.Issuers). ensure and rotate publish that policy with every
// key, so keytool and the local deployer publish the same thing.
//
// It talks to $AWS_ENDPOINT_URL (or -endpoint) when set, with test/test
// credentials unless the environment has some, and to AWS otherwise.
// Results go to stdout (token prints only the token), errors to stderr
// with exit status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// runTimeout bounds a run, so a wedged endpoint fails a make target
// instead of hanging it.
const runTimeout = 2 * time.Minute

// operatorService is the issuer the token command signs as: operators and
// scripts, never a user. Its tokens' subject is its policy's.
const operatorService = naming.OperatorIssuer

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, connectAWS); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "keytool:", err)
		}
		os.Exit(1)
	}
}

// keyStore is what the commands do to the keys; connectAWS provides the
// real one, tests a fake.
type keyStore interface {
	EnsureIssuer(ctx context.Context, service string, policy servicetoken.Policy) (created bool, err error)
	Rotate(ctx context.Context, service string, policy servicetoken.Policy) (newKID string, err error)
	Retire(ctx context.Context, service, kid string) error
	LoadSigner(ctx context.Context, service string) (*servicetoken.Signer, error)
}

type connectFunc func(ctx context.Context, endpoint, prefix string, getenv func(string) string) (keyStore, error)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, connect connectFunc) error {
	cmd, err := parseArgs(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cmd.issuers, err = resolveIssuers(cmd); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	keys, err := connect(ctx, cmd.endpoint, cmd.prefix, getenv)
	if err != nil {
		return err
	}
	return execute(ctx, cmd, keys, stdout)
}

// command is one parsed invocation.
type command struct {
	name      string // ensure, rotate, retire or token
	prefix    string
	endpoint  string
	manifests string // root of functions/*/service.yaml

	services []string          // ensure, rotate: as given; none means every issuer
	issuers  []manifest.Issuer // ensure, rotate: resolved from the manifests
	service  string            // retire
	kid      string            // retire

	scopes []string // token
	ttl    time.Duration
	kind   string
}

const usage = `usage: keytool [-prefix shop] [-endpoint URL] [-manifests .] <command> [flags]

commands:
  ensure [-services users,operator]  create each issuer's keys if missing; publish every key
                                     with what the issuer may mint (idempotent)
  rotate [-services users,operator]  give each issuer a new active key and print its kid
  retire -service users -kid KID     remove a key that can no longer be in use (refused, with the
                                     time it becomes retirable, until then)
  token  -scopes 'a:b c:d' [-ttl 5m] print a service token of the operator issuer

Without -services, ensure and rotate act on every issuer the manifests declare.
Run 'keytool <command> -h' for a command's flags.
`

var (
	// prefixRE matches the deployer's rule (localstack/deploy).
	prefixRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	serviceRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (command, error) {
	c := command{prefix: "shop", endpoint: getenv("AWS_ENDPOINT_URL"), manifests: "."}
	top := flag.NewFlagSet("keytool", flag.ContinueOnError)
	top.SetOutput(stderr)
	top.Usage = func() { fmt.Fprint(stderr, usage) }
	commonFlags(top, &c)
	if err := top.Parse(args); err != nil {
		return c, err
	}
	if top.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return c, errors.New("no command")
	}
	c.name = top.Arg(0)

	fs := flag.NewFlagSet("keytool "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Again after the command, defaulting to what came before it, so the
	// flags work in either place.
	commonFlags(fs, &c)
	var services, scopes string
	switch c.name {
	case "ensure", "rotate":
		fs.StringVar(&services, "services", "", "comma-separated services; each is issuer <prefix>-<service> (default: every issuer of the manifests)")
	case "retire":
		fs.StringVar(&c.service, "service", "", "the service whose key to retire (required)")
		fs.StringVar(&c.kid, "kid", "", "the key id to retire (required)")
	case "token":
		fs.StringVar(&scopes, "scopes", "", "scopes to grant, separated by spaces or commas")
		fs.DurationVar(&c.ttl, "ttl", servicetoken.MaxServiceTTL, "lifetime, at most "+servicetoken.MaxServiceTTL.String())
		fs.StringVar(&c.kind, "kind", servicetoken.KindService, "token kind: only service (user tokens come from login)")
	default:
		fmt.Fprint(stderr, usage)
		return c, fmt.Errorf("unknown command %q", c.name)
	}
	if err := fs.Parse(top.Args()[1:]); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%s: unexpected arguments %q", c.name, fs.Args())
	}
	if !prefixRE.MatchString(c.prefix) {
		return c, fmt.Errorf("-prefix %q must match %s", c.prefix, prefixRE)
	}
	if c.endpoint != "" && !strings.HasPrefix(c.endpoint, "http://") && !strings.HasPrefix(c.endpoint, "https://") {
		return c, fmt.Errorf("-endpoint %q: want http(s)://host[:port]", c.endpoint)
	}

	switch c.name {
	case "ensure", "rotate":
		for _, s := range strings.Split(services, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.services = append(c.services, s)
			}
		}
		if services != "" && len(c.services) == 0 {
			return c, fmt.Errorf("%s: -services %q names no service", c.name, services)
		}
		for _, s := range c.services {
			if !serviceRE.MatchString(s) {
				return c, fmt.Errorf("%s: service %q must match %s", c.name, s, serviceRE)
			}
		}
	case "retire":
		if !serviceRE.MatchString(c.service) {
			return c, fmt.Errorf("retire: -service %q must match %s", c.service, serviceRE)
		}
		if c.kid == "" {
			return c, errors.New("retire: -kid is required")
		}
	case "token":
		// Only login may speak for a user; a tool that could would be a
		// skeleton key for every account.
		if c.kind != servicetoken.KindService {
			return c, fmt.Errorf("token: -kind %q refused: keytool mints service tokens only; user tokens come from login", c.kind)
		}
		if c.ttl < time.Second || c.ttl > servicetoken.MaxServiceTTL {
			return c, fmt.Errorf("token: -ttl %v must be between 1s and %v", c.ttl, servicetoken.MaxServiceTTL)
		}
		c.scopes = strings.FieldsFunc(scopes, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	}
	return c, nil
}

func commonFlags(fs *flag.FlagSet, c *command) {
	fs.StringVar(&c.prefix, "prefix", c.prefix, "deployment prefix: secrets <prefix>/signing/<service>, parameter /<prefix>/jwks")
	fs.StringVar(&c.endpoint, "endpoint", c.endpoint, "AWS endpoint of a local emulator (default $AWS_ENDPOINT_URL; empty: AWS)")
	fs.StringVar(&c.manifests, "manifests", c.manifests, "repository root whose functions/*/service.yaml declare the issuers")
}

// resolveIssuers finds what ensure and rotate act on, and the policy each
// issuer's keys are published with, in the manifests: keytool must publish
// what the deployer publishes, and both read it from the one model.
func resolveIssuers(c command) ([]manifest.Issuer, error) {
	if c.name != "ensure" && c.name != "rotate" {
		return nil, nil
	}
	set, err := manifest.Load(c.manifests)
	if err != nil {
		return nil, fmt.Errorf("%s: the issuers come from the manifests (-manifests %s): %w", c.name, c.manifests, err)
	}
	if len(c.services) == 0 {
		return set.Issuers(), nil
	}
	var out []manifest.Issuer
	for _, svc := range c.services {
		iss, ok := set.Issuer(svc)
		if !ok {
			return nil, fmt.Errorf("%s: %s is no issuer: its service.yaml under %s declares no tokens", c.name, svc, c.manifests)
		}
		out = append(out, iss)
	}
	return out, nil
}

func execute(ctx context.Context, c command, keys keyStore, stdout io.Writer) error {
	switch c.name {
	case "ensure":
		for _, iss := range c.issuers {
			created, err := keys.EnsureIssuer(ctx, iss.Service, iss.Policy)
			if err != nil {
				return fmt.Errorf("ensure %s: %w", iss.Service, err)
			}
			status := "unchanged"
			if created {
				status = "created"
			}
			fmt.Fprintf(stdout, "issuer %s %s\n", naming.Issuer(c.prefix, iss.Service), status)
		}
	case "rotate":
		for _, iss := range c.issuers {
			kid, err := keys.Rotate(ctx, iss.Service, iss.Policy)
			if err != nil {
				return fmt.Errorf("rotate %s: %w", iss.Service, err)
			}
			fmt.Fprintln(stdout, kid)
		}
	case "retire":
		if err := keys.Retire(ctx, c.service, c.kid); err != nil {
			return fmt.Errorf("retire %s: %w", c.kid, err)
		}
		fmt.Fprintf(stdout, "issuer %s retired %s\n", naming.Issuer(c.prefix, c.service), c.kid)
	case "token":
		signer, err := keys.LoadSigner(ctx, operatorService)
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		// The only subject the operator's policy lets verifiers accept.
		tok, _, err := signer.Issue(servicetoken.KindService, manifest.OperatorPolicy().Subject, []string{naming.Audience(c.prefix)}, c.scopes, c.ttl)
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		fmt.Fprintln(stdout, tok)
	default:
		return fmt.Errorf("unknown command %q", c.name)
	}
	return nil
}
