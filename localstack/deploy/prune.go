package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/naming"
)

// Pruning: what the model no longer has.
//
// Terraform destroys what a deleted manifest declared; the deployer prunes
// the same, once everything else is deployed (no route, integration or
// grant of the API refers to a removed function any more by then):
//
//   - a function of this stack the model does not have: named
//     <prefix>-..., and carrying SHOP_PREFIX=<prefix>, so a stack whose
//     prefix merely begins with ours (<prefix>-b) is never touched. Then
//     its log group, and its role if Lambda is what may assume it.
//     Deleting the function takes its grants to API Gateway with it.
//   - a role of this stack's name whose function is gone already (a prune
//     cut short, which deletes the function first): only when it looks
//     like the deployer's (the model's trust, no managed policy, at most
//     the model's one inline policy) and no other stack on the emulator
//     owns its name. A role proves nothing else about its owner, and one
//     the deployer cannot prove its own stays. Its log group goes first,
//     so the role is what a cut-short prune leaves to finish it.
//   - a state machine of this stack's name the model does not have (not
//     a nested stack's: <prefix>-b-...), then its execution log group and
//     its role, if Step Functions is what may assume the role and it looks
//     like the deployer's.
//   - a rule of this stack's name (<prefix>-...) on the stack's bus that
//     the model does not have, after its targets; a rule of another name
//     (a test's capture rule) is never touched.
//   - an event source mapping of a function of this stack's name that the
//     model does not have (before the function: Lambda keeps a deleted
//     function's mappings). A model function's mappings that the model
//     does not want go in ensureMappings.
//   - a queue named as the model names a queue or dead-letter queue of a
//     function of this stack, the model's or one being pruned (<prefix>-
//     <function>[-dlq]), that the model does not have; after the rules and
//     mappings that fed or read it.
//   - the bus, after its archive, when the model has none any more (no
//     service publishes, nothing ingests), unless a rule of another name
//     is still on it (deleting the bus would take that rule with it on
//     MiniStack; AWS refuses): kept, and reported.
//   - a table of a service no manifest declares is kept (it holds data):
//     reported, for the developer to delete.

// prefixVariable is the environment variable that names a function's stack
// (manifest.Environment sets it; TestPrefixVariableIsTheModels holds the
// two together).
const prefixVariable = "SHOP_PREFIX"

// statusTableKept reports a table of a service no manifest declares.
const statusTableKept = "kept: no service declares it any more; delete it yourself"

// statusRoleKept reports the role of a pruned function that Lambda may not
// assume (or, with no function in the model, whose trust there is nothing
// to compare with): not provably one the deployer made.
const statusRoleKept = "kept: not provably the deployer's (not the Lambda trust); delete it yourself"

// statusStateMachineRoleKept reports the role of a pruned state machine
// that is not provably the deployer's.
const statusStateMachineRoleKept = "kept: not provably the deployer's (not the Step Functions trust); delete it yourself"

// statusBusKept reports a bus the model no longer has that still holds
// rules not of this stack.
const statusBusKept = "kept: it holds rules not of this stack; delete them and deploy again"

// liveFunction is a function on the emulator, as pruning sees it.
type liveFunction struct {
	name  string // physical name
	stack string // its SHOP_PREFIX; "" when it has none
}

// liveMapping is an event source mapping on the emulator.
type liveMapping struct {
	uuid     string
	function string // the physical name of its function
	source   string // its event source's ARN
}

// pruneScan is what the emulator holds that pruning looks at.
type pruneScan struct {
	functions  []liveFunction
	roles      []string
	tables     []string
	parameters []string // SSM parameter names: a stack's JWKS parameter tells its prefix
	// stateMachines are the state machines' ARNs by name.
	stateMachines map[string]string
	// bus and archive: whether the stack's bus (naming.EventBus) and its
	// archive are there; rules are the names of the rules on it.
	bus, archive bool
	rules        []string
	queues       []string // names of the queues named <prefix>-...
	mappings     []liveMapping
}

// prunePlan is what pruning does, each list sorted.
type prunePlan struct {
	// functions are the manifest names of this stack's functions the model
	// does not have: each goes, then its log group and its role.
	functions []string
	// roles are the manifest names of roles of this stack's name that the
	// model does not have and whose function is gone: each goes, with its
	// log group, if the role looks like the deployer's (looksDeployed).
	roles []string
	// tables are the physical names of tables of this stack the model does
	// not have: kept, and reported.
	tables []string
	// stateMachines are the physical names of state machines of this stack
	// the model does not have: each goes, then its log group and its role.
	stateMachines []string
	// rules are the rules of this stack's name on its bus that the model
	// does not have.
	rules []string
	// mappings are the mappings of functions of this stack's name that
	// the model does not have.
	mappings []liveMapping
	// queues are the physical names of queues of this stack's functions
	// that the model does not have.
	queues []string
	// eventBus: the bus and its archive go (the model has no bus);
	// busKept: they stay, since rules not of this stack are on the bus.
	eventBus, busKept bool
}

// planPrune decides from scan what of the stack of model.Prefix the model
// no longer has.
func planPrune(model *deployment.Deployment, scan pruneScan) prunePlan {
	prefix := model.Prefix
	nested := nestedStacks(prefix, scan)
	ours := func(name string) bool {
		if !strings.HasPrefix(name, prefix+"-") {
			return false
		}
		for _, other := range nested {
			if name == other || strings.HasPrefix(name, other+"-") {
				return false
			}
		}
		return true
	}
	wantFunctions, wantRoles, wantTables := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, fn := range model.Functions {
		wantFunctions[fn.FunctionName] = true
		wantRoles[fn.Role.Name] = true
	}
	for _, t := range model.Tables {
		wantTables[t.Name] = true
	}
	wantMachines := map[string]bool{}
	for _, sm := range model.StateMachines {
		wantMachines[sm.StateMachineName] = true
		wantRoles[sm.Role.Name] = true
	}

	var plan prunePlan
	functionThere := map[string]bool{}
	for _, fn := range scan.functions {
		functionThere[fn.name] = true
		// The variable alone decides whose a function is; the name only
		// has to be one this stack could have given it.
		if fn.stack == prefix && strings.HasPrefix(fn.name, prefix+"-") && !wantFunctions[fn.name] {
			plan.functions = append(plan.functions, strings.TrimPrefix(fn.name, prefix+"-"))
		}
	}
	for _, role := range scan.roles {
		if ours(role) && !wantRoles[role] && !functionThere[role] {
			plan.roles = append(plan.roles, strings.TrimPrefix(role, prefix+"-"))
		}
	}
	for _, t := range scan.tables {
		if ours(t) && !wantTables[t] {
			plan.tables = append(plan.tables, t)
		}
	}
	for name := range scan.stateMachines {
		if ours(name) && !wantMachines[name] {
			plan.stateMachines = append(plan.stateMachines, name)
		}
	}
	planEventPrune(model, scan, ours, &plan)
	// A state machine's role goes with its state machine, never as a
	// function's: the functions' trust would not prove it the deployer's.
	plan.roles = slices.DeleteFunc(plan.roles, func(name string) bool {
		_, ok := scan.stateMachines[prefix+"-"+name]
		return ok
	})
	sort.Strings(plan.functions)
	sort.Strings(plan.roles)
	sort.Strings(plan.tables)
	sort.Strings(plan.stateMachines)
	sort.Strings(plan.rules)
	sort.Strings(plan.queues)
	sort.Slice(plan.mappings, func(i, j int) bool {
		a, b := plan.mappings[i], plan.mappings[j]
		return a.function < b.function || a.function == b.function && a.uuid < b.uuid
	})
	return plan
}

// planEventPrune adds to plan the rules, mappings and queues of the stack
// the model no longer has, and its bus when the model has none. The
// functions and roles to prune are in plan already: their queues go too.
func planEventPrune(model *deployment.Deployment, scan pruneScan, ours func(string) bool, plan *prunePlan) {
	prefix := model.Prefix
	wantFunctions, wantRules, wantQueues := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, fn := range model.Functions {
		wantFunctions[fn.FunctionName] = true
		if c := fn.Consumer; c != nil {
			wantRules[c.Rule.Name] = true
			wantQueues[c.Queue.Name] = true
			wantQueues[c.DeadLetterQueue.Name] = true
		}
		if r := fn.Relay; r != nil {
			wantQueues[r.DeadLetterQueue.Name] = true
		}
	}
	foreignRules := false
	for _, r := range scan.rules {
		switch {
		case !strings.HasPrefix(r, prefix+"-"):
			foreignRules = true
		case !wantRules[r]:
			plan.rules = append(plan.rules, r)
		}
	}
	// The functions whose queues the stack may have: the model's, and
	// those being pruned (or whose role is: the function went first).
	functions := map[string]bool{}
	for name := range wantFunctions {
		functions[name] = true
	}
	for _, name := range append(slices.Clone(plan.functions), plan.roles...) {
		functions[naming.Function(prefix, name)] = true
	}
	for _, m := range scan.mappings {
		if ours(m.function) && !wantFunctions[m.function] {
			plan.mappings = append(plan.mappings, m)
			functions[m.function] = true
		}
	}
	for _, q := range scan.queues {
		fn := strings.TrimSuffix(q, "-dlq")
		if !ours(q) || wantQueues[q] || !functions[q] && !functions[fn] {
			continue
		}
		plan.queues = append(plan.queues, q)
	}
	if model.EventBus == nil && (scan.bus || scan.archive) {
		plan.eventBus = !foreignRules
		plan.busKept = foreignRules
	}
}

// nestedStacks are the prefixes of the other stacks on the emulator whose
// names begin with prefix+"-" (shop-b beside shop), known by their
// functions' SHOP_PREFIX and their JWKS parameters (written before their
// roles and functions, so a stack half deployed is known too).
func nestedStacks(prefix string, scan pruneScan) []string {
	var stacks []string
	for _, fn := range scan.functions {
		stacks = append(stacks, fn.stack)
	}
	for _, p := range scan.parameters {
		stack, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if naming.JWKSParameter(stack) == p {
			stacks = append(stacks, stack)
		}
	}
	var nested []string
	for _, s := range stacks {
		if strings.HasPrefix(s, prefix+"-") && !slices.Contains(nested, s) {
			nested = append(nested, s)
		}
	}
	sort.Strings(nested)
	return nested
}

// looksDeployed reports whether a role whose function or state machine is
// gone is one the deployer made for the model: want's trust policy, no
// managed policy (the deployer attaches none) and no inline policy but the
// model's.
func (r liveRole) looksDeployed(want deployment.Role) bool {
	if !samePolicy(r.trust, mustJSON(want.Trust)) || len(r.attached) > 0 {
		return false
	}
	for _, name := range r.inline {
		if name != want.PolicyName {
			return false
		}
	}
	return true
}

// prune deletes what the model no longer has (see above) and reports each
// deletion; a second run finds nothing to delete.
func (d *deployer) prune(ctx context.Context) error {
	scan, err := d.scanForPrune(ctx)
	if err != nil {
		return err
	}
	plan := planPrune(d.model, scan)
	// First, while the functions they invoke are still there.
	for _, name := range plan.stateMachines {
		if err := d.pruneStateMachine(ctx, name, scan.stateMachines[name]); err != nil {
			return err
		}
	}
	// Every role of the model has the same trust and policy name: a role
	// is proven the deployer's against any one of them.
	var model *deployment.Role
	if len(d.model.Functions) > 0 {
		model = &d.model.Functions[0].Role
	}
	// Rules, mappings and queues before the functions: nothing sends to a
	// queue or reads it once it goes.
	bus := naming.EventBus(d.model.Prefix)
	for _, name := range plan.rules {
		if err := d.pruneRule(ctx, bus, name); err != nil {
			return err
		}
	}
	for _, m := range plan.mappings {
		if err := d.deleteMapping(ctx, m.function, lambdaMapping(m)); err != nil {
			return err
		}
		d.p.report("mapping", m.function, statusDeleted)
	}
	for _, name := range plan.queues {
		if err := d.deleteQueue(ctx, name); err != nil {
			return err
		}
	}
	for _, name := range plan.functions {
		if err := d.pruneFunction(ctx, name, model); err != nil {
			return err
		}
	}
	for _, name := range plan.roles {
		if model == nil {
			break // nothing to prove a role the deployer's against
		}
		if err := d.pruneRole(ctx, name, *model); err != nil {
			return err
		}
	}
	switch {
	case plan.eventBus:
		if err := d.deleteEventBus(ctx, bus, scan.archive, scan.bus); err != nil {
			return err
		}
	case plan.busKept:
		d.p.report("event bus", bus, statusBusKept)
	}
	for _, t := range plan.tables {
		d.p.report("table", t, statusTableKept)
	}
	return nil
}

// scanForPrune lists the emulator's functions, roles, tables and
// parameters.
func (d *deployer) scanForPrune(ctx context.Context) (pruneScan, error) {
	var scan pruneScan
	fns := lambda.NewListFunctionsPaginator(d.lambda, &lambda.ListFunctionsInput{})
	for fns.HasMorePages() {
		page, err := fns.NextPage(ctx)
		if err != nil {
			return scan, fmt.Errorf("prune: list functions: %w", err)
		}
		for _, f := range page.Functions {
			fn := liveFunction{name: aws.ToString(f.FunctionName)}
			if f.Environment != nil {
				fn.stack = f.Environment.Variables[prefixVariable]
			}
			scan.functions = append(scan.functions, fn)
		}
	}
	roles := iam.NewListRolesPaginator(d.iam, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			return scan, fmt.Errorf("prune: list roles: %w", err)
		}
		for _, r := range page.Roles {
			scan.roles = append(scan.roles, aws.ToString(r.RoleName))
		}
	}
	tables := dynamodb.NewListTablesPaginator(d.ddb, &dynamodb.ListTablesInput{})
	for tables.HasMorePages() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return scan, fmt.Errorf("prune: list tables: %w", err)
		}
		scan.tables = append(scan.tables, page.TableNames...)
	}
	scan.stateMachines = map[string]string{}
	machines := sfn.NewListStateMachinesPaginator(d.sfn, &sfn.ListStateMachinesInput{})
	for machines.HasMorePages() {
		page, err := machines.NextPage(ctx)
		if err != nil {
			return scan, fmt.Errorf("prune: list state machines: %w", err)
		}
		for _, m := range page.StateMachines {
			scan.stateMachines[aws.ToString(m.Name)] = aws.ToString(m.StateMachineArn)
		}
	}
	if err := d.scanEvents(ctx, &scan); err != nil {
		return scan, err
	}
	params := ssm.NewDescribeParametersPaginator(d.ssm, &ssm.DescribeParametersInput{})
	for params.HasMorePages() {
		page, err := params.NextPage(ctx)
		if err != nil {
			return scan, fmt.Errorf("prune: list parameters: %w", err)
		}
		for _, p := range page.Parameters {
			scan.parameters = append(scan.parameters, aws.ToString(p.Name))
		}
	}
	return scan, nil
}

// pruneFunction deletes the function of manifest name, then its log group,
// then its role if Lambda is what may assume it (model nil: no role is
// proven the deployer's, and it stays).
func (d *deployer) pruneFunction(ctx context.Context, name string, model *deployment.Role) error {
	fn := naming.Function(d.model.Prefix, name)
	// Not found: our own delete, retried after a lost response (retried.go).
	if _, err := d.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &fn}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("function %s: delete: %w", fn, err)
	}
	d.p.report("function", fn, statusDeleted)
	if err := d.deleteLogGroup(ctx, naming.LogGroup(d.model.Prefix, name)); err != nil {
		return err
	}
	role := naming.Function(d.model.Prefix, name)
	r, found, err := d.existingRole(ctx, role)
	if err != nil || !found {
		return err
	}
	// The function was the model's until now, so its role is the
	// deployer's if Lambda may assume it, whatever policies it holds.
	if model == nil || !samePolicy(r.trust, mustJSON(model.Trust)) {
		d.p.report("role", role, statusRoleKept)
		return nil
	}
	return d.deleteRole(ctx, role, r.inline, r.attached)
}

// pruneStateMachine deletes the state machine name (physical), then its
// execution log group, then its role if it looks like one the deployer
// made for a state machine (Step Functions' trust, no managed policy, at
// most the one inline policy every model role has).
func (d *deployer) pruneStateMachine(ctx context.Context, name, arn string) error {
	if err := d.deleteStateMachine(ctx, name, arn); err != nil {
		return err
	}
	// name is <prefix>-<service>-<name>, which is all the log group's name
	// is made of (planPrune picked only names of this prefix; a service
	// name has no dash).
	service, smName, _ := strings.Cut(strings.TrimPrefix(name, d.model.Prefix+"-"), "-")
	if err := d.deleteLogGroup(ctx, naming.StateMachineLogGroup(d.model.Prefix, service, smName)); err != nil {
		return err
	}
	r, found, err := d.existingRole(ctx, name)
	if err != nil || !found {
		return err
	}
	if !r.looksDeployed(deployment.Role{Trust: deployment.StateMachineTrust(), PolicyName: deployment.RolePolicyName}) {
		d.p.report("role", name, statusStateMachineRoleKept)
		return nil
	}
	return d.deleteRole(ctx, name, r.inline, r.attached)
}

// pruneRole deletes the role of manifest name, whose function is gone, and
// its log group, if the role looks like the deployer's; otherwise it
// leaves both alone, silently: the role may be anyone's.
func (d *deployer) pruneRole(ctx context.Context, name string, model deployment.Role) error {
	role := naming.Function(d.model.Prefix, name)
	r, found, err := d.existingRole(ctx, role)
	if err != nil || !found || !r.looksDeployed(model) {
		return err
	}
	if err := d.deleteLogGroup(ctx, naming.LogGroup(d.model.Prefix, name)); err != nil {
		return err
	}
	return d.deleteRole(ctx, role, r.inline, r.attached)
}

// liveRole is what prune needs to know of an existing role.
type liveRole struct {
	trust            string // the trust policy document
	inline, attached []string
}

// existingRole reads role's trust policy and its policies; found is false
// when there is no such role.
func (d *deployer) existingRole(ctx context.Context, role string) (r liveRole, found bool, err error) {
	got, err := d.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &role})
	if awserr.HasCode(err, "NoSuchEntity") {
		return liveRole{}, false, nil
	}
	if err != nil {
		return liveRole{}, false, fmt.Errorf("role %s: get: %w", role, err)
	}
	r.trust = aws.ToString(got.Role.AssumeRolePolicyDocument)
	if r.inline, r.attached, err = d.rolePolicies(ctx, role); err != nil {
		return liveRole{}, false, err
	}
	return r, true, nil
}

// rolePolicies names the role's inline policies and the ARNs of its
// managed ones.
func (d *deployer) rolePolicies(ctx context.Context, role string) (inline, attached []string, err error) {
	if inline, err = d.inlinePolicies(ctx, role); err != nil {
		return nil, nil, err
	}
	pages := iam.NewListAttachedRolePoliciesPaginator(d.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("role %s: list managed policies: %w", role, err)
		}
		for _, p := range page.AttachedPolicies {
			attached = append(attached, aws.ToString(p.PolicyArn))
		}
	}
	return inline, attached, nil
}

// deleteRole deletes the role after what IAM refuses to delete a role
// with: its inline policies, its managed policies attached. Each not found
// is our own delete, retried after a lost response.
func (d *deployer) deleteRole(ctx context.Context, role string, inline, attached []string) error {
	for _, name := range inline {
		if _, err := d.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &role, PolicyName: &name}); err != nil && !awserr.HasCode(err, "NoSuchEntity") {
			return fmt.Errorf("role %s: delete inline policy %s: %w", role, name, err)
		}
	}
	for _, arn := range attached {
		if _, err := d.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &role, PolicyArn: &arn}); err != nil && !awserr.HasCode(err, "NoSuchEntity") {
			return fmt.Errorf("role %s: detach %s: %w", role, arn, err)
		}
	}
	if _, err := d.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &role}); err != nil && !awserr.HasCode(err, "NoSuchEntity") {
		return fmt.Errorf("role %s: delete: %w", role, err)
	}
	d.p.report("role", role, statusDeleted)
	return nil
}

// deleteLogGroup deletes the log group if it is there, and reports it.
func (d *deployer) deleteLogGroup(ctx context.Context, group string) error {
	_, found, err := d.describeLogGroup(ctx, group)
	if err != nil || !found {
		return err
	}
	// Not found: our own delete, retried after a lost response.
	if _, err := d.logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &group}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("log group %s: delete: %w", group, err)
	}
	d.p.report("log group", group, statusDeleted)
	return nil
}
