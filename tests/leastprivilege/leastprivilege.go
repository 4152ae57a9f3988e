// Package leastprivilege proves, on the local stack, that each deployed
// function's role allows every AWS call the function made, and reports what
// the role grants that no call used. The emulator stores IAM policies but
// never enforces them, so without this a missing grant shows up only on AWS,
// as AccessDenied.
//
//	fns := stack.Functions(ctx, names, since) // policies and recorded calls
//	report := leastprivilege.Check(ctx, fns, stack)
//	report.Write(os.Stdout)
//
// The calls come from shared/awscalls, which every function deployed by the
// local deployer writes to its log group, one line per call; so do the
// calls Lambda makes with the role for each of the function's event source
// mappings (awscalls.MappingNeeds); the policies are what IAM holds for the
// function's role; iampolicy decides. A call that cannot be fully
// described or evaluated counts as denied.
package leastprivilege

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/tests/iampolicy"
)

// Function is a deployed function as the check sees it.
type Function struct {
	Name string // deployed name, e.g. shop-users-get
	ARN  string // its ARN: the partition, region and account of its resources
	// Recording says the function was deployed with awscalls.EnvSwitch=1.
	Recording bool
	Policies  []iampolicy.Policy
	Calls     []awscalls.Call
	// Mappings are the function's event source mappings: Lambda reads
	// their sources (and writes their on-failure destinations) with the
	// function's role, so the role must allow that too, though no call
	// of the function's own is ever recorded for it.
	Mappings []Mapping
	// Err says why the function, its policies or its calls could not be read.
	Err error
}

// Mapping is an event source mapping as the check sees it.
type Mapping struct {
	Source    string // the queue's or stream's ARN
	OnFailure string // the on-failure destination's ARN; "" for none
}

// mappingOperation names, in a finding, what needed a grant for a mapping.
const mappingOperation = "event source mapping"

// Resolver answers what a recorded call does not say.
type Resolver interface {
	// SecretARN is the ARN of a secret named by name or partial ARN: the
	// real ARN ends in a random six-character suffix.
	SecretARN(ctx context.Context, id string) (string, error)
	// PartitionKey is the name of a table's partition key attribute.
	PartitionKey(ctx context.Context, table string) (string, error)
}

// Report is the outcome of Check.
type Report struct {
	Functions int
	Checked   int            // calls evaluated against their function's policies
	Mappings  int            // event source mappings evaluated likewise
	LocalOnly map[string]int // calls of local test machinery, by reason: not evaluated
	NoCalls   []string       // functions that recorded no call
	Denied    []Finding
	Unused    []Unused
}

// Finding is a kind of call its function's policies do not allow, or a
// function that cannot be checked at all (no Action then).
type Finding struct {
	Function  string
	Action    string
	Resource  string
	Operation string // the API operation that needed it, e.g. TransactWriteItems
	Reason    string
	Count     int
}

// Unused is an action an Allow statement grants that no call used.
type Unused struct {
	Function  string
	Sid       string
	Action    string
	Resources []string
}

// Failed reports whether any call was not allowed, or any function could
// not be checked.
func (r Report) Failed() bool { return len(r.Denied) > 0 }

// lambdaServiceActions are granted for the Lambda service itself, which
// delivers the function's output to its log group (and traces, where on);
// the function's own code never calls them, so they are never recorded.
var lambdaServiceActions = []string{
	"logs:createloggroup", "logs:createlogstream", "logs:putlogevents",
	"xray:puttracesegments", "xray:puttelemetryrecords",
}

// Check evaluates every recorded call of every function against that
// function's policies.
func Check(ctx context.Context, fns []Function, r Resolver) Report {
	rep := Report{Functions: len(fns), LocalOnly: map[string]int{}}
	findings := map[Finding]int{}
	deny := func(f Finding) { findings[f]++ }
	for _, fn := range fns {
		if fn.Err != nil {
			deny(Finding{Function: fn.Name, Reason: fn.Err.Error()})
			continue
		}
		if !fn.Recording {
			deny(Finding{Function: fn.Name, Reason: "deployed without " + awscalls.EnvSwitch + "=1: its calls are not recorded, so nothing proves its policy"})
			continue
		}
		used := map[iampolicy.Grant]bool{}
		recorded := 0
		for _, call := range fn.Calls {
			if call.LocalOnly != "" {
				rep.LocalOnly[call.LocalOnly]++
				continue
			}
			recorded++
			rep.Checked++
			if call.Problem != "" {
				deny(Finding{Function: fn.Name, Action: call.Service + ":" + call.Operation, Operation: call.Operation,
					Reason: "cannot be checked: " + call.Problem})
				continue
			}
			for _, need := range call.Needs {
				req, err := request(ctx, fn, call, need, r)
				if err != nil {
					deny(Finding{Function: fn.Name, Action: need.Action, Resource: need.Resource, Operation: call.Operation, Reason: err.Error()})
					continue
				}
				d := iampolicy.Evaluate(fn.Policies, req)
				if !d.Allowed {
					deny(Finding{Function: fn.Name, Action: need.Action, Resource: req.Resource, Operation: call.Operation, Reason: d.Reason})
				}
				for _, g := range d.Grants {
					used[g] = true
				}
			}
		}
		for _, m := range fn.Mappings {
			rep.Mappings++
			needs, err := awscalls.MappingNeeds(m.Source, m.OnFailure)
			if err != nil {
				deny(Finding{Function: fn.Name, Resource: m.Source, Operation: mappingOperation, Reason: "cannot be checked: " + err.Error()})
			}
			for _, need := range needs {
				d := iampolicy.Evaluate(fn.Policies, iampolicy.Request{Action: need.Action, Resource: need.Resource})
				if !d.Allowed {
					deny(Finding{Function: fn.Name, Action: need.Action, Resource: need.Resource, Operation: mappingOperation, Reason: d.Reason})
				}
				for _, g := range d.Grants {
					used[g] = true
				}
			}
		}
		if recorded == 0 {
			rep.NoCalls = append(rep.NoCalls, fn.Name)
		}
		rep.Unused = append(rep.Unused, unused(fn, used)...)
	}
	for f, n := range findings {
		f.Count = n
		rep.Denied = append(rep.Denied, f)
	}
	slices.SortFunc(rep.Denied, func(a, b Finding) int {
		return strings.Compare(a.Function+"\x00"+a.Action+"\x00"+a.Resource+"\x00"+a.Reason, b.Function+"\x00"+b.Action+"\x00"+b.Resource+"\x00"+b.Reason)
	})
	return rep
}

// unused lists the action patterns of fn's Allow statements that no call
// used, in policy order.
func unused(fn Function, used map[iampolicy.Grant]bool) []Unused {
	var out []Unused
	for _, p := range fn.Policies {
		for i, s := range p.Statements {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Actions {
				if slices.Contains(lambdaServiceActions, strings.ToLower(a)) {
					continue
				}
				if !used[iampolicy.Grant{Policy: p.Name, Statement: i, Sid: s.Sid, Action: a}] {
					out = append(out, Unused{Function: fn.Name, Sid: s.Sid, Action: a, Resources: s.Resources})
				}
			}
		}
	}
	return out
}

// arn is an ARN's fields.
type arn struct{ partition, service, region, account, resource string }

func parseARN(s string) (arn, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return arn{}, fmt.Errorf("%q is not an ARN", s)
	}
	return arn{parts[1], parts[2], parts[3], parts[4], parts[5]}, nil
}

func (a arn) String() string {
	return strings.Join([]string{"arn", a.partition, a.service, a.region, a.account, a.resource}, ":")
}

// request turns one recorded need into the request IAM evaluates: the
// resource's whole ARN, and for DynamoDB items the dynamodb:LeadingKeys
// condition key.
func request(ctx context.Context, fn Function, call awscalls.Call, need awscalls.Need, r Resolver) (iampolicy.Request, error) {
	fnARN, err := parseARN(fn.ARN)
	if err != nil {
		return iampolicy.Request{}, fmt.Errorf("function ARN: %w", err)
	}
	region := call.Region
	if region == "" {
		region = fnARN.region
	}
	req := iampolicy.Request{Action: need.Action}
	switch {
	case strings.HasPrefix(need.Resource, "arn:"):
		req.Resource = need.Resource
	case call.Service == "secretsmanager" && strings.HasPrefix(need.Resource, "secret:"):
		id := strings.TrimPrefix(need.Resource, "secret:")
		if req.Resource, err = r.SecretARN(ctx, id); err != nil {
			return req, fmt.Errorf("secret %s: no ARN to check the call against: %w", id, err)
		}
	default:
		req.Resource = arn{fnARN.partition, call.Service, region, fnARN.account, need.Resource}.String()
	}
	if call.Service == "dynamodb" && need.Keys != nil {
		req.Context, req.Unknown = leadingKeys(ctx, req.Resource, need.Keys, r)
	}
	return req, nil
}

const leadingKeysKey = "dynamodb:LeadingKeys"

// leadingKeys is dynamodb:LeadingKeys for items of the table resource: the
// value of the table's partition key in each item's key. Unknown when the
// partition key is not known, an item's key lacks it, or the resource is an
// index (whose LeadingKeys this check does not claim to know).
func leadingKeys(ctx context.Context, resource string, keys []map[string]string, r Resolver) (map[string][]string, []string) {
	unknown := []string{leadingKeysKey}
	a, err := parseARN(resource)
	table, isTable := strings.CutPrefix(a.resource, "table/")
	if err != nil || !isTable || strings.Contains(table, "/") {
		return nil, unknown
	}
	pk, err := r.PartitionKey(ctx, table)
	if err != nil {
		return nil, unknown
	}
	values := make([]string, 0, len(keys))
	for _, k := range keys {
		v, ok := k[pk]
		if !ok {
			return nil, unknown
		}
		values = append(values, v)
	}
	return map[string][]string{leadingKeysKey: values}, nil
}

// Write prints the report: the verdict, what was not allowed, and the
// grants no call used.
func (r Report) Write(w io.Writer) {
	verdict := "all allowed"
	if r.Failed() {
		verdict = fmt.Sprintf("%d kinds of call NOT ALLOWED", len(r.Denied))
	}
	fmt.Fprintf(w, "least privilege: %d functions, %d AWS calls (since each was deployed) and %d event source mappings checked against their roles' policies: %s\n",
		r.Functions, r.Checked, r.Mappings, verdict)
	for _, reason := range slices.Sorted(maps.Keys(r.LocalOnly)) {
		fmt.Fprintf(w, "  not checked: %d calls of local test machinery (%s), which never run on AWS\n", r.LocalOnly[reason], reason)
	}
	if len(r.NoCalls) > 0 {
		fmt.Fprintf(w, "  no calls recorded: %s\n", strings.Join(r.NoCalls, ", "))
	}
	if len(r.Denied) > 0 {
		fmt.Fprintln(w, "\nnot allowed (on AWS: AccessDenied):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FUNCTION\tACTION\tRESOURCE\tCALLS\tOPERATION\tWHY")
		for _, f := range r.Denied {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", f.Function, dash(f.Action), dash(f.Resource), f.Count, dash(f.Operation), f.Reason)
		}
		tw.Flush()
	}
	if len(r.Unused) > 0 {
		fmt.Fprintln(w, "\ngranted, but no recorded call used it (a path no test takes, or a grant to drop):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FUNCTION\tACTION\tRESOURCE\tSTATEMENT")
		for _, u := range r.Unused {
			res := make([]string, len(u.Resources))
			for i, rs := range u.Resources {
				res[i] = shortResource(rs)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.Function, u.Action, strings.Join(res, ", "), dash(u.Sid))
		}
		tw.Flush()
		fmt.Fprintln(w, "  (not listed: the logs and X-Ray actions every role grants for Lambda itself to deliver the function's output and traces)")
	}
}

// shortResource drops an ARN's fixed fields, for a table that fits a screen.
func shortResource(s string) string {
	if a, err := parseARN(s); err == nil {
		return a.resource
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
