// Command replay sends the events the bus archived in a time window back to
// the consumers (`make replay FROM=... TO=... [TYPES=...]`). Consumers
// deduplicate on the event id, so replaying events they have handled
// changes nothing; a replay is for a consumer that was broken, deployed
// late or lost its state.
//
//	go run ./infra/replay -from 2026-12-01T10:00:00Z -to 2026-12-01T11:00:00Z
//	go run ./infra/replay -from 2h -to 1h -types shop.order.created.v1   # durations mean "ago"
//
// It talks to $AWS_ENDPOINT_URL (or -endpoint) when set, and to AWS
// otherwise. The replay goes to the rules of the consumers of the types
// (every consumer without -types): EventBridge replays to rules, not to
// types, so a rule that also matches other types gets those again too,
// which its consumer's deduplication makes harmless.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/infra/internal/awstool"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, time.Now); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "replay:", err)
		}
		os.Exit(1)
	}
}

type options struct {
	endpoint, prefix, root string
	from, to               time.Time
	types                  []string
	wait                   time.Duration
}

func parse(args []string, stderr io.Writer, getenv func(string) string, now func() time.Time) (options, error) {
	o := options{endpoint: getenv("AWS_ENDPOINT_URL")}
	var from, to, types string
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "endpoint", o.endpoint, "AWS endpoint of a local emulator (default $AWS_ENDPOINT_URL; empty: AWS)")
	fs.StringVar(&o.prefix, "prefix", "shop", "the stack's prefix")
	fs.StringVar(&o.root, "root", ".", "repository root (holds functions/)")
	fs.StringVar(&from, "from", "", "start of the window: RFC 3339, or a duration meaning that long ago (90m)")
	fs.StringVar(&to, "to", "", "end of the window, as -from; default now")
	fs.StringVar(&types, "types", "", "comma-separated event types; default every consumer's")
	fs.DurationVar(&o.wait, "wait", 10*time.Minute, "how long to wait for the replay to finish (0: start it and return)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if from == "" {
		return o, errors.New("-from is required (FROM=... with make replay)")
	}
	if o.from, err = when(from, now()); err != nil {
		return o, fmt.Errorf("-from: %w", err)
	}
	o.to = now()
	if to != "" {
		if o.to, err = when(to, now()); err != nil {
			return o, fmt.Errorf("-to: %w", err)
		}
	}
	if !o.from.Before(o.to) {
		return o, fmt.Errorf("-from %s is not before -to %s", o.from.Format(time.RFC3339), o.to.Format(time.RFC3339))
	}
	if o.to.After(now()) {
		return o, errors.New("-to is in the future: EventBridge replays only what is archived")
	}
	for _, t := range strings.Split(types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.types = append(o.types, t)
		}
	}
	return o, nil
}

// when reads an instant: RFC 3339, or a duration before now.
func when(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration ago", s)
	}
	return now.Add(-d), nil
}

// rules are the ARNs of the rules the replay goes to: those of the
// consumers of types, or of every consumer.
func rules(set *manifest.Set, d *deployment.Deployment, types []string) ([]string, error) {
	for _, t := range types {
		if !slices.Contains(set.EventTypes, t) {
			return nil, fmt.Errorf("-types: %q is not in the catalog (events/)", t)
		}
	}
	var arns []string
	for _, fn := range d.Functions {
		if fn.Consumer == nil {
			continue
		}
		wanted := len(types) == 0
		for _, t := range types {
			wanted = wanted || slices.ContainsFunc(set.Consumers(t), func(c *manifest.Function) bool { return c.Name == fn.Name })
		}
		if wanted {
			arns = append(arns, fn.Consumer.Rule.ARN)
		}
	}
	if len(arns) == 0 {
		return nil, fmt.Errorf("no consumer receives %v", types)
	}
	return arns, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) error {
	o, err := parse(args, stderr, getenv, now)
	if err != nil {
		return err
	}
	set, err := manifest.Load(o.root)
	if err != nil {
		return err
	}
	cfg, err := awstool.Config(ctx, o.endpoint, getenv)
	if err != nil {
		return err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	d, err := deployment.Build(set, deployment.Params{Prefix: o.prefix, Region: cfg.Region, Account: aws.ToString(id.Account)})
	if err != nil {
		return err
	}
	if d.EventBus == nil {
		return errors.New("the stack has no event bus")
	}
	filter, err := rules(set, d, o.types)
	if err != nil {
		return err
	}
	eb := eventbridge.NewFromConfig(cfg)
	name := fmt.Sprintf("%s-%s", o.prefix, now().UTC().Format("20060102T150405Z"))
	_, err = eb.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String(name),
		Description:    aws.String("make replay"),
		EventSourceArn: aws.String(d.EventBus.Archive.ARN),
		EventStartTime: aws.Time(o.from),
		EventEndTime:   aws.Time(o.to),
		Destination:    &ebtypes.ReplayDestination{Arn: aws.String(d.EventBus.ARN), FilterArns: filter},
	})
	if err != nil {
		return fmt.Errorf("start replay %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "replay %s: %s .. %s to %d rule(s)\n", name, o.from.UTC().Format(time.RFC3339), o.to.UTC().Format(time.RFC3339), len(filter))
	if o.wait == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	for {
		out, err := eb.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("replay %s: %w", name, err)
		}
		switch out.State {
		case ebtypes.ReplayStateCompleted:
			fmt.Fprintf(stdout, "replay %s: completed\n", name)
			return nil
		case ebtypes.ReplayStateFailed, ebtypes.ReplayStateCancelled:
			return fmt.Errorf("replay %s: %s: %s", name, out.State, aws.ToString(out.StateReason))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay %s: still %s: %w", name, out.State, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
