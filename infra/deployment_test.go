package infra

// Evaluation of the deployment as `terraform plan` would see it, and its
// comparison with the manifests.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// fakeARN stands in for an ARN only AWS knows, named so that a check can tell
// whose it is.
func fakeARN(kind, name string) string { return "arn:test:" + kind + ":" + name }

type deployment struct {
	prefix        string
	artifactsDir  string
	skippedLocals []string
	services      map[string]*serviceDeployment // by module instance key
	routes        map[string]*routeDeployment   // by http_api functions key

	// Token keys, in the root module.
	secrets        map[string]map[string]cty.Value // aws_secretsmanager_secret.signing, by issuer
	recoveryWindow cty.Value                       // var.signing_secret_recovery_window_days
	jwks           map[string]cty.Value            // aws_ssm_parameter.jwks
	jwksIgnored    []string                        // its lifecycle ignore_changes

	// The API's authorizer and the permission to invoke it, per instance.
	authorizers           []map[string]cty.Value
	authorizerPermissions []map[string]cty.Value
}

type serviceDeployment struct {
	table      map[string]cty.Value // arguments of aws_dynamodb_table.this
	attributes []map[string]cty.Value
	indexes    []map[string]cty.Value
	ttl        []map[string]cty.Value
	pitr       []map[string]cty.Value
	sse        []map[string]cty.Value
	functions  map[string]*functionDeployment
	outputs    cty.Value
}

type functionDeployment struct {
	args         map[string]cty.Value // arguments of aws_lambda_function.this
	env          cty.Value
	logGroup     string
	roleName     string
	rolePolicy   map[string]cty.Value // arguments of aws_iam_role_policy.this
	statements   []map[string]cty.Value
	hasPolicyDoc bool

	// The role policy's preconditions; the message is the first failure's.
	policyOK      bool
	policyMessage string
}

func (f *functionDeployment) statementsWith(actionPrefix string) []map[string]cty.Value {
	var out []map[string]cty.Value
	for _, st := range f.statements {
		actions, _ := stringList(st["actions"])
		if slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, actionPrefix) }) {
			out = append(out, st)
		}
	}
	return out
}

type routeDeployment struct {
	route               map[string]cty.Value
	integration         map[string]cty.Value
	permission          map[string]cty.Value
	preconditionOK      bool
	preconditionMessage string
}

// preconditions evaluates a block's lifecycle preconditions: ok unless one
// is false or unknown, with the first such one's error message.
func preconditions(s scope, b *hclsyntax.Block) (ok bool, message string, err error) {
	ok = true
	for _, lc := range childBlocks(b, "lifecycle") {
		conds, err := s.nested(lc, "precondition")
		if err != nil {
			return false, "", err
		}
		for _, c := range conds {
			if c["condition"].IsKnown() && !c["condition"].IsNull() && c["condition"].True() {
				continue
			}
			if ok {
				message, _ = asString(c["error_message"])
			}
			ok = false
		}
	}
	return ok, message, nil
}

// evaluate plays the part of `terraform plan` that matters here: the root
// module at dir with its variable defaults (and overrides), then each module
// instance with the arguments the root passes it.
func evaluate(dir string, overrides map[string]cty.Value) (*deployment, error) {
	root, err := parseModule(dir)
	if err != nil {
		return nil, err
	}
	vars, err := bindVariables(root, overrides)
	if err != nil {
		return nil, err
	}
	s := scope{path: pathValue(dir, dir), vars: vars}
	locals, skipped, err := evalLocals(root, s)
	if err != nil {
		return nil, err
	}
	s.locals = locals
	d := &deployment{
		prefix:         vars["name_prefix"].AsString(),
		skippedLocals:  skipped,
		services:       map[string]*serviceDeployment{},
		recoveryWindow: vars["signing_secret_recovery_window_days"],
	}
	d.artifactsDir, _ = asString(locals["artifacts_dir"])
	if s, err = evalKeys(root, s, d); err != nil {
		return nil, err
	}

	call, mod, err := moduleCall(root, s, "service")
	if err != nil {
		return nil, err
	}
	instances, err := s.forEach(call)
	if err != nil {
		return nil, err
	}
	// The module's arguments refer to one of its own outputs (the platform
	// table, for the breakers), which Terraform resolves output by output.
	// Here: a first round with the module's outputs unknown, then a second
	// with the outputs of the first.
	self := cty.DynamicVal
	for round := 0; round < 2; round++ {
		outputs := map[string]cty.Value{}
		sm := s.with("module", cty.ObjectVal(map[string]cty.Value{"service": self}))
		for key, each := range instances {
			args, err := moduleArgs(call, sm.with("each", each))
			if err != nil {
				return nil, err
			}
			sd, err := evalService(mod, args)
			if err != nil {
				return nil, fmt.Errorf("module.service[%q]: %w", key, err)
			}
			d.services[key] = sd
			outputs[key] = sd.outputs
		}
		self = objectOf(outputs)
	}

	call, mod, err = moduleCall(root, s, "http_api")
	if err != nil {
		return nil, err
	}
	withOutputs := s.with("module", cty.ObjectVal(map[string]cty.Value{"service": self}))
	args, err := moduleArgs(call, withOutputs)
	if err != nil {
		return nil, err
	}
	if err := evalHTTPAPI(mod, args, d); err != nil {
		return nil, fmt.Errorf("module.http_api: %w", err)
	}
	return d, nil
}

// evalKeys evaluates the signing secrets and the JWKS parameter of the root
// module into d, and returns s with stand-ins for them.
func evalKeys(root *tfModule, s scope, d *deployment) (scope, error) {
	secretBlock, err := root.one("resource", "aws_secretsmanager_secret", "signing")
	if err != nil {
		return s, err
	}
	instances, err := s.forEach(secretBlock)
	if err != nil {
		return s, err
	}
	d.secrets = map[string]map[string]cty.Value{}
	secrets := map[string]cty.Value{}
	for key, each := range instances {
		args, err := evalArgs(s.with("each", each), secretBlock, "name", "recovery_window_in_days")
		if err != nil {
			return s, fmt.Errorf("aws_secretsmanager_secret.signing[%q]: %w", key, err)
		}
		d.secrets[key] = args
		name, _ := asString(args["name"])
		secrets[key] = cty.ObjectVal(map[string]cty.Value{
			"name": args["name"], "arn": cty.StringVal(fakeARN("secretsmanager", "secret:"+name)),
		})
	}

	jwksBlock, err := root.one("resource", "aws_ssm_parameter", "jwks")
	if err != nil {
		return s, err
	}
	if d.jwks, err = evalArgs(s, jwksBlock, "name", "type", "value"); err != nil {
		return s, fmt.Errorf("aws_ssm_parameter.jwks: %w", err)
	}
	for _, lc := range childBlocks(jwksBlock, "lifecycle") {
		if a, ok := lc.Body.Attributes["ignore_changes"]; ok {
			exprs, diags := hcl.ExprList(a.Expr)
			if diags.HasErrors() {
				return s, diags
			}
			for _, e := range exprs {
				d.jwksIgnored = append(d.jwksIgnored, hcl.ExprAsKeyword(e))
			}
		}
	}
	name, _ := asString(d.jwks["name"])

	s = s.with("aws_secretsmanager_secret", cty.ObjectVal(map[string]cty.Value{"signing": objectOf(secrets)}))
	return s.with("aws_ssm_parameter", cty.ObjectVal(map[string]cty.Value{"jwks": cty.ObjectVal(map[string]cty.Value{
		"name": d.jwks["name"], "arn": cty.StringVal(fakeARN("ssm", "parameter"+name)),
	})})), nil
}

func pathValue(module, root string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"module": cty.StringVal(module),
		"root":   cty.StringVal(root),
		"cwd":    cty.StringVal("."),
	})
}

// moduleCall finds `module "<name>"` and parses the module it sources.
func moduleCall(root *tfModule, s scope, name string) (*hclsyntax.Block, *tfModule, error) {
	call, err := root.one("module", name)
	if err != nil {
		return nil, nil, err
	}
	src, err := s.attr(call, "source")
	if err != nil {
		return nil, nil, err
	}
	source, ok := asString(src)
	if !ok || !strings.HasPrefix(source, "./") {
		return nil, nil, fmt.Errorf("module %q: source %s is not a local path", name, show(src))
	}
	mod, err := parseModule(filepath.Join(root.dir, source))
	return call, mod, err
}

// moduleArgs evaluates a module call's arguments, leaving out meta-arguments.
func moduleArgs(call *hclsyntax.Block, s scope) (map[string]cty.Value, error) {
	args := map[string]cty.Value{}
	for name, a := range call.Body.Attributes {
		switch name {
		case "source", "version", "for_each", "count", "depends_on", "providers":
			continue
		}
		v, err := s.eval(a.Expr)
		if err != nil {
			return nil, err
		}
		args[name] = v
	}
	return args, nil
}

func evalArgs(s scope, b *hclsyntax.Block, names ...string) (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	for _, name := range names {
		v, err := s.attr(b, name)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func evalService(mod *tfModule, args map[string]cty.Value) (*serviceDeployment, error) {
	vars, err := bindVariables(mod, args)
	if err != nil {
		return nil, err
	}
	s := scope{path: pathValue(mod.dir, mod.dir), vars: vars}
	if s.locals, _, err = evalLocals(mod, s); err != nil {
		return nil, err
	}
	sd := &serviceDeployment{functions: map[string]*functionDeployment{}}

	table, err := mod.one("resource", "aws_dynamodb_table", "this")
	if err != nil {
		return nil, err
	}
	if sd.table, err = evalArgs(s, table, "name", "billing_mode", "hash_key", "range_key",
		"stream_enabled", "stream_view_type", "deletion_protection_enabled"); err != nil {
		return nil, err
	}
	for typ, dst := range map[string]*[]map[string]cty.Value{
		"attribute": &sd.attributes, "global_secondary_index": &sd.indexes, "ttl": &sd.ttl,
		"point_in_time_recovery": &sd.pitr, "server_side_encryption": &sd.sse,
	} {
		if *dst, err = s.nested(table, typ); err != nil {
			return nil, err
		}
	}
	tableName, ok := asString(sd.table["name"])
	if !ok {
		return nil, fmt.Errorf("table name is %s", show(sd.table["name"]))
	}
	s = s.with("aws_dynamodb_table", cty.ObjectVal(map[string]cty.Value{"this": cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal(tableName),
		"arn":  cty.StringVal(fakeARN("dynamodb", "table/"+tableName)),
	})}))

	// Stand-ins for the per-function resources the function and its policy
	// refer to, each carrying its key so that a cross-wired reference shows.
	logGroups, roles, docs := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	lgBlock, err := mod.one("resource", "aws_cloudwatch_log_group", "this")
	if err != nil {
		return nil, err
	}
	roleBlock, err := mod.one("resource", "aws_iam_role", "this")
	if err != nil {
		return nil, err
	}
	for _, b := range []*hclsyntax.Block{lgBlock, roleBlock} {
		instances, err := s.forEach(b)
		if err != nil {
			return nil, err
		}
		for key, each := range instances {
			name, err := s.with("each", each).attr(b, "name")
			if err != nil {
				return nil, err
			}
			n, _ := asString(name)
			if b == lgBlock {
				logGroups[key] = cty.ObjectVal(map[string]cty.Value{
					"name": name, "arn": cty.StringVal(fakeARN("logs", "log-group:"+n)),
				})
			} else {
				roles[key] = cty.ObjectVal(map[string]cty.Value{
					"name": name, "id": cty.StringVal("role-id:" + key), "arn": cty.StringVal(fakeARN("iam", "role/"+n)),
				})
			}
		}
	}
	docBlock, err := mod.one("data", "aws_iam_policy_document", "this")
	if err != nil {
		return nil, err
	}
	docInstances, err := s.forEach(docBlock)
	if err != nil {
		return nil, err
	}
	for key := range docInstances {
		docs[key] = cty.ObjectVal(map[string]cty.Value{"json": cty.StringVal("policy-json:" + key)})
	}
	s = s.with("aws_cloudwatch_log_group", cty.ObjectVal(map[string]cty.Value{"this": objectOf(logGroups)}))
	s = s.with("aws_iam_role", cty.ObjectVal(map[string]cty.Value{"this": objectOf(roles)}))
	s = s.with("data", cty.ObjectVal(map[string]cty.Value{
		"aws_iam_policy_document": cty.ObjectVal(map[string]cty.Value{"this": objectOf(docs)}),
	}))

	fnBlock, err := mod.one("resource", "aws_lambda_function", "this")
	if err != nil {
		return nil, err
	}
	rpBlock, err := mod.one("resource", "aws_iam_role_policy", "this")
	if err != nil {
		return nil, err
	}
	rpInstances, err := s.forEach(rpBlock)
	if err != nil {
		return nil, err
	}
	fnInstances, err := s.forEach(fnBlock)
	if err != nil {
		return nil, err
	}
	lambdas := map[string]cty.Value{}
	for key, each := range fnInstances {
		se := s.with("each", each)
		fd := &functionDeployment{}
		if fd.args, err = evalArgs(se, fnBlock, "function_name", "role", "runtime", "architectures",
			"handler", "filename", "memory_size", "timeout"); err != nil {
			return nil, err
		}
		env, err := se.nested(fnBlock, "environment")
		if err != nil {
			return nil, err
		}
		if len(env) == 1 {
			fd.env = env[0]["variables"]
		}
		fd.logGroup, _ = asString(get(logGroups[key], "name"))
		fd.roleName, _ = asString(get(roles[key], "name"))
		if _, ok := docInstances[key]; ok {
			fd.hasPolicyDoc = true
			if fd.statements, err = se.nested(docBlock, "statement"); err != nil {
				return nil, err
			}
		}
		if _, ok := rpInstances[key]; ok {
			if fd.rolePolicy, err = evalArgs(se, rpBlock, "role", "policy"); err != nil {
				return nil, err
			}
			if fd.policyOK, fd.policyMessage, err = preconditions(se, rpBlock); err != nil {
				return nil, err
			}
		}
		sd.functions[key] = fd
		name, _ := asString(fd.args["function_name"])
		lambdas[key] = cty.ObjectVal(map[string]cty.Value{
			"function_name": fd.args["function_name"],
			"arn":           cty.StringVal(fakeARN("lambda", "function:"+name)),
			"invoke_arn":    cty.StringVal(fakeARN("apigateway", "invoke:"+name)),
		})
	}
	s = s.with("aws_lambda_function", cty.ObjectVal(map[string]cty.Value{"this": objectOf(lambdas)}))

	outputs := map[string]cty.Value{}
	for _, o := range mod.find("output") {
		if outputs[o.Labels[0]], err = s.attr(o, "value"); err != nil {
			return nil, err
		}
	}
	sd.outputs = objectOf(outputs)
	return sd, nil
}

func evalHTTPAPI(mod *tfModule, args map[string]cty.Value, d *deployment) error {
	vars, err := bindVariables(mod, args)
	if err != nil {
		return err
	}
	s := scope{path: pathValue(mod.dir, mod.dir), vars: vars}
	if s.locals, _, err = evalLocals(mod, s); err != nil {
		return err
	}
	s = s.with("aws_apigatewayv2_api", cty.ObjectVal(map[string]cty.Value{"this": cty.ObjectVal(map[string]cty.Value{
		"id":            cty.StringVal("api-id"),
		"execution_arn": cty.StringVal(fakeARN("execute-api", "api-id")),
		"api_endpoint":  cty.StringVal("https://api-id.test"),
	})}))

	// The authorizer and its permission: count instances, 0 or 1.
	counted := func(b *hclsyntax.Block, names ...string) ([]map[string]cty.Value, error) {
		n, err := s.count(b)
		if err != nil {
			return nil, err
		}
		var out []map[string]cty.Value
		for i := range n {
			args, err := evalArgs(s.with("count", cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})), b, names...)
			if err != nil {
				return nil, err
			}
			out = append(out, args)
		}
		return out, nil
	}
	authorizer, err := mod.one("resource", "aws_apigatewayv2_authorizer", "this")
	if err != nil {
		return err
	}
	if d.authorizers, err = counted(authorizer, "api_id", "name", "authorizer_type", "authorizer_uri",
		"authorizer_payload_format_version", "enable_simple_responses", "identity_sources",
		"authorizer_result_ttl_in_seconds"); err != nil {
		return err
	}
	ids := make([]cty.Value, len(d.authorizers))
	for i := range ids {
		ids[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(fmt.Sprintf("authorizer-id-%d", i))})
	}
	s = s.with("aws_apigatewayv2_authorizer", cty.ObjectVal(map[string]cty.Value{"this": cty.TupleVal(ids)}))
	authorizerPermission, err := mod.one("resource", "aws_lambda_permission", "authorizer")
	if err != nil {
		return err
	}
	if d.authorizerPermissions, err = counted(authorizerPermission, "function_name", "principal", "action", "source_arn"); err != nil {
		return err
	}

	find := func(typ string) (*hclsyntax.Block, map[string]cty.Value, error) {
		b, err := mod.one("resource", typ, "this")
		if err != nil {
			return nil, nil, err
		}
		inst, err := s.forEach(b)
		return b, inst, err
	}
	integration, integrations, err := find("aws_apigatewayv2_integration")
	if err != nil {
		return err
	}
	byKey := map[string]cty.Value{}
	for key := range integrations {
		byKey[key] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal("integration-id:" + key)})
	}
	s = s.with("aws_apigatewayv2_integration", cty.ObjectVal(map[string]cty.Value{"this": objectOf(byKey)}))
	route, routes, err := find("aws_apigatewayv2_route")
	if err != nil {
		return err
	}
	permission, permissions, err := find("aws_lambda_permission")
	if err != nil {
		return err
	}

	d.routes = map[string]*routeDeployment{}
	for key, each := range routes {
		se := s.with("each", each)
		rd := &routeDeployment{}
		if rd.route, err = evalArgs(se, route, "route_key", "target", "authorization_type", "authorizer_id"); err != nil {
			return err
		}
		if rd.preconditionOK, rd.preconditionMessage, err = preconditions(se, route); err != nil {
			return err
		}
		if each, ok := integrations[key]; ok {
			if rd.integration, err = evalArgs(s.with("each", each), integration,
				"integration_type", "integration_uri", "payload_format_version"); err != nil {
				return err
			}
		}
		if each, ok := permissions[key]; ok {
			if rd.permission, err = evalArgs(s.with("each", each), permission,
				"function_name", "principal", "action", "source_arn"); err != nil {
				return err
			}
		}
		d.routes[key] = rd
	}
	return nil
}

// ---------------------------------------------------------------------------
// Comparison with the manifests

// compare lists every way the evaluated deployment differs from what the
// manifests ask for; nil when they agree.
func compare(set *manifest.Set, d *deployment) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := d.prefix

	var svcNames []string
	for _, svc := range set.Services {
		svcNames = append(svcNames, svc.Name)
	}
	problems = append(problems, diffNames("service", svcNames, sortedKeys(d.services))...)

	for _, svc := range set.Services {
		sd := d.services[svc.Name]
		if sd == nil {
			continue
		}
		problems = append(problems, compareTable(svc, p, sd)...)

		var fnNames []string
		for _, fn := range svc.Functions {
			fnNames = append(fnNames, fn.Name)
		}
		problems = append(problems, diffNames("function of "+svc.Name, fnNames, sortedKeys(sd.functions))...)
		for _, fn := range svc.Functions {
			if fd := sd.functions[fn.Name]; fd != nil {
				problems = append(problems, compareFunction(fn, p, fd, d.artifactsDir, set.Service(naming.PlatformService) != nil)...)
			}
		}
		exported := keysOf(get(sd.outputs, "functions"))
		if !slices.Equal(exported, sortedKeys(sd.functions)) {
			bad("service %s: output functions has %v, want %v", svc.Name, exported, sortedKeys(sd.functions))
		}
	}

	// Routes are keyed by function name; the messages carry the route keys.
	var httpNames []string
	for _, fn := range set.Functions() {
		if fn.HTTP == nil {
			continue
		}
		httpNames = append(httpNames, fn.Name)
		if d.routes[fn.Name] == nil {
			bad("route %s of function %s: in the manifests, missing from Terraform", fn.HTTP.RouteKey(), fn.Name)
		}
	}
	for _, name := range sortedKeys(d.routes) {
		if !slices.Contains(httpNames, name) {
			bad("route %s of function %s: in Terraform, not in the manifests", show(d.routes[name].route["route_key"]), name)
		}
	}
	authorizer := set.Authorizer()
	for _, fn := range set.Functions() {
		rd := d.routes[fn.Name]
		if fn.HTTP == nil || rd == nil {
			continue
		}
		where := "route of " + fn.Name
		name := naming.Function(p, fn.Name)
		expectString(bad, where, "route_key", rd.route["route_key"], fn.HTTP.RouteKey())
		expectString(bad, where, "target", rd.route["target"], "integrations/integration-id:"+fn.Name)
		expectString(bad, where, "integration_type", rd.integration["integration_type"], "AWS_PROXY")
		expectString(bad, where, "payload_format_version", rd.integration["payload_format_version"], "2.0")
		expectString(bad, where, "integration_uri", rd.integration["integration_uri"], fakeARN("apigateway", "invoke:"+name))
		expectString(bad, where, "permission function_name", rd.permission["function_name"], name)
		expectString(bad, where, "permission principal", rd.permission["principal"], "apigateway.amazonaws.com")
		expectString(bad, where, "permission source_arn", rd.permission["source_arn"], fakeARN("execute-api", "api-id")+"/*/"+fn.HTTP.InvokeResource())
		switch {
		case fn.HTTP.Auth == manifest.AuthNone:
			if !rd.preconditionOK {
				bad("%s: auth none, yet the route's precondition fails: %s", where, rd.preconditionMessage)
			}
			expectString(bad, where, "authorization_type", rd.route["authorization_type"], "NONE")
			expectOptionalString(bad, where, "authorizer_id", rd.route["authorizer_id"], "")
		case authorizer == nil:
			// The manifest loader refuses this; Terraform must refuse it too.
			if rd.preconditionOK {
				bad("%s: manifest says auth %q and there is no authorizer, yet the route passes its preconditions: it would be deployed open", where, fn.HTTP.Auth)
			}
		default:
			if !rd.preconditionOK {
				bad("%s: the route's precondition fails: %s", where, rd.preconditionMessage)
			}
			expectString(bad, where, "authorization_type", rd.route["authorization_type"], "CUSTOM")
			expectString(bad, where, "authorizer_id", rd.route["authorizer_id"], "authorizer-id-0")
		}
	}
	problems = append(problems, compareAuthorizer(authorizer, p, d)...)
	problems = append(problems, compareKeys(set, p, d)...)
	return problems
}

// compareAuthorizer checks the API's Lambda authorizer against the function
// of kind authorizer, or its absence when there is none.
func compareAuthorizer(fn *manifest.Function, prefix string, d *deployment) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if fn == nil {
		if len(d.authorizers) > 0 || len(d.authorizerPermissions) > 0 {
			bad("authorizer: the manifests have no function of kind authorizer, Terraform has %d authorizers and %d permissions",
				len(d.authorizers), len(d.authorizerPermissions))
		}
		return problems
	}
	where := "authorizer " + fn.Name
	if len(d.authorizers) != 1 || len(d.authorizerPermissions) != 1 {
		bad("%s: want one authorizer and one permission to invoke it, found %d and %d",
			where, len(d.authorizers), len(d.authorizerPermissions))
		return problems
	}
	name := naming.Function(prefix, fn.Name)
	a := d.authorizers[0]
	expectString(bad, where, "api_id", a["api_id"], "api-id")
	// Named after the stack, not after the function behind it.
	expectString(bad, where, "name", a["name"], authorizerName(prefix))
	expectString(bad, where, "authorizer_type", a["authorizer_type"], "REQUEST")
	expectString(bad, where, "authorizer_uri", a["authorizer_uri"], fakeARN("apigateway", "invoke:"+name))
	expectString(bad, where, "authorizer_payload_format_version", a["authorizer_payload_format_version"], "2.0")
	expectTrue(bad, where, "enable_simple_responses", a["enable_simple_responses"])
	if got, ok := stringList(a["identity_sources"]); !ok || !slices.Equal(got, []string{"$request.header.Authorization"}) {
		bad("%s: identity_sources is %s, want exactly the Authorization header", where, show(a["identity_sources"]))
	}
	// Cached per token: a cached allow can outlive the token by the TTL.
	if ttl := a["authorizer_result_ttl_in_seconds"]; !ttl.IsKnown() || ttl.IsNull() || ttl.Type() != cty.Number ||
		ttl.LessThan(cty.Zero).True() || ttl.GreaterThan(cty.NumberIntVal(60)).True() {
		bad("%s: authorizer_result_ttl_in_seconds is %s, want 0-60", where, show(ttl))
	}
	perm := d.authorizerPermissions[0]
	expectString(bad, where, "permission function_name", perm["function_name"], name)
	expectString(bad, where, "permission principal", perm["principal"], "apigateway.amazonaws.com")
	expectString(bad, where, "permission action", perm["action"], "lambda:InvokeFunction")
	expectString(bad, where, "permission source_arn", perm["source_arn"], fakeARN("execute-api", "api-id")+"/authorizers/authorizer-id-0")
	return problems
}

// authorizerName is the physical name of the API's Lambda authorizer, the
// one the local deployer gives it (deployer.authorizerName in
// localstack/deploy): a stack has one authorizer, whatever function backs it.
func authorizerName(prefix string) string { return prefix + "-authorizer" }

// compareKeys checks the token keys' containers: a signing secret for each
// issuer of the model (manifest.Set.Issuers: every service that declares
// tokens, and the operator; main.tf derives them from permissions.signingKey,
// which manifest.Load holds to the same set) and the one JWKS parameter,
// whose content Terraform leaves to keytool.
func compareKeys(set *manifest.Set, prefix string, d *deployment) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var issuers []string
	for _, iss := range set.Issuers() {
		issuers = append(issuers, iss.Service)
	}
	problems = append(problems, diffNames("signing secret of issuer", issuers, sortedKeys(d.secrets))...)
	for _, issuer := range issuers {
		if sec := d.secrets[issuer]; sec != nil {
			where := "signing secret of " + naming.Issuer(prefix, issuer)
			expectString(bad, where, "name", sec["name"], naming.SigningSecret(prefix, issuer))
			if got := sec["recovery_window_in_days"]; !got.RawEquals(d.recoveryWindow) {
				bad("%s: recovery_window_in_days is %s, want the variable's %s", where, show(got), show(d.recoveryWindow))
			}
		}
	}

	where := "JWKS parameter"
	expectString(bad, where, "name", d.jwks["name"], naming.JWKSParameter(prefix))
	expectString(bad, where, "type", d.jwks["type"], "String")
	expectString(bad, where, "value", d.jwks["value"], `{"keys":[]}`)
	// keytool rewrites both; a diff in either makes the provider write back
	// the value it last read, which can undo a key published meanwhile.
	for _, attr := range []string{"value", "description"} {
		if !slices.Contains(d.jwksIgnored, attr) {
			bad("%s: lifecycle ignore_changes is %v; it must hold %s, which keytool writes", where, d.jwksIgnored, attr)
		}
	}
	return problems
}

func compareTable(svc *manifest.Service, prefix string, sd *serviceDeployment) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	where, t := "table of "+svc.Name, svc.Table
	expectString(bad, where, "name", sd.table["name"], naming.Table(prefix, svc.Name))
	expectString(bad, where, "billing_mode", sd.table["billing_mode"], "PAY_PER_REQUEST")
	expectString(bad, where, "hash_key", sd.table["hash_key"], t.PartitionKey.Name)
	expectOptionalString(bad, where, "range_key", sd.table["range_key"], keyName(t.SortKey))
	expectOptionalString(bad, where, "stream_view_type", sd.table["stream_view_type"], t.Stream)
	if got := sd.table["stream_enabled"]; !got.IsKnown() || got.IsNull() || got.True() != (t.Stream != "") {
		bad("%s: stream_enabled is %s, want %v", where, show(got), t.Stream != "")
	}

	want := map[string]string{t.PartitionKey.Name: t.PartitionKey.Type}
	addKey := func(k *manifest.Key) {
		if k != nil {
			want[k.Name] = k.Type
		}
	}
	addKey(t.SortKey)
	for i := range t.Indexes {
		addKey(&t.Indexes[i].PartitionKey)
		addKey(t.Indexes[i].SortKey)
	}
	got := map[string]string{}
	for _, a := range sd.attributes {
		name, _ := asString(a["name"])
		if _, dup := got[name]; dup {
			bad("%s: attribute %q is defined twice", where, name)
		}
		got[name], _ = asString(a["type"])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		bad("%s: attributes are %v, want exactly the key attributes %v", where, got, want)
	}

	indexes := map[string]map[string]cty.Value{}
	for _, ix := range sd.indexes {
		name, _ := asString(ix["name"])
		indexes[name] = ix
	}
	var wantIx []string
	for _, ix := range t.Indexes {
		wantIx = append(wantIx, ix.Name)
		if gx := indexes[ix.Name]; gx != nil {
			w := where + " index " + ix.Name
			expectString(bad, w, "hash_key", gx["hash_key"], ix.PartitionKey.Name)
			expectOptionalString(bad, w, "range_key", gx["range_key"], keyName(ix.SortKey))
			expectString(bad, w, "projection_type", gx["projection_type"], ix.Projection)
		}
	}
	problems = append(problems, diffNames(where+" index", wantIx, sortedKeys(indexes))...)

	switch {
	case t.TTL == "" && len(sd.ttl) > 0:
		bad("%s: has a ttl block, the manifest has no ttl", where)
	case t.TTL != "" && len(sd.ttl) != 1:
		bad("%s: want one ttl block on %q, found %d", where, t.TTL, len(sd.ttl))
	case t.TTL != "":
		expectString(bad, where, "ttl attribute_name", sd.ttl[0]["attribute_name"], t.TTL)
		expectTrue(bad, where, "ttl enabled", sd.ttl[0]["enabled"])
	}
	for name, blocks := range map[string][]map[string]cty.Value{"point_in_time_recovery": sd.pitr, "server_side_encryption": sd.sse} {
		if len(blocks) != 1 {
			bad("%s: want one %s block, found %d", where, name, len(blocks))
		} else {
			expectTrue(bad, where, name+" enabled", blocks[0]["enabled"])
		}
	}
	return problems
}

func compareFunction(fn *manifest.Function, prefix string, fd *functionDeployment, artifactsDir string, platformExists bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	where := "function " + fn.Name
	name := naming.Function(prefix, fn.Name)
	expectString(bad, where, "function_name", fd.args["function_name"], name)
	if len(name) > maxAWSLen || len(fd.roleName) > maxAWSLen {
		bad("%s: function name %q or role name %q exceeds %d characters", where, name, fd.roleName, maxAWSLen)
	}
	expectString(bad, where, "log group", cty.StringVal(fd.logGroup), "/aws/lambda/"+name)
	expectString(bad, where, "role", fd.args["role"], fakeARN("iam", "role/"+fd.roleName))
	expectString(bad, where, "filename", fd.args["filename"], artifactsDir+"/"+fn.Name+".zip")
	expectNumber(bad, where, "memory_size", fd.args["memory_size"], fn.MemoryMB)
	expectNumber(bad, where, "timeout", fd.args["timeout"], fn.TimeoutSecs)

	if env, ok := stringMap(fd.env); !ok {
		bad("%s: environment variables are %s", where, show(fd.env))
	} else if want := manifest.Environment(prefix, fn); fmt.Sprint(env) != fmt.Sprint(want) {
		bad("%s: environment is %v, want %v", where, env, want)
	}

	// The role's only policy is this function's own document.
	if !fd.hasPolicyDoc || fd.rolePolicy == nil {
		bad("%s: no policy document or no role policy", where)
		return problems
	}
	expectString(bad, where, "role policy role", fd.rolePolicy["role"], "role-id:"+fn.Name)
	expectString(bad, where, "role policy document", fd.rolePolicy["policy"], "policy-json:"+fn.Name)

	// The policy's statements, exactly: what every function gets, then one
	// statement per permission the manifest asks for.
	tableARN := fakeARN("dynamodb", "table/"+naming.Table(prefix, fn.Service))
	want := []string{
		statementKey([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{fakeARN("logs", "log-group:/aws/lambda/"+name) + ":*"}),
		statementKey([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, []string{"*"}),
	}
	if len(fn.Permissions.DynamoDB) > 0 {
		var actions []string
		for _, a := range fn.Permissions.DynamoDB {
			actions = append(actions, "dynamodb:"+a)
		}
		want = append(want, statementKey(actions, []string{tableARN, tableARN + "/index/*"}))
	}
	if fn.Permissions.SigningKey {
		want = append(want, statementKey([]string{"secretsmanager:GetSecretValue"},
			[]string{fakeARN("secretsmanager", "secret:"+naming.SigningSecret(prefix, fn.Service))}))
	}
	if fn.Permissions.PublicKeys {
		want = append(want, statementKey([]string{"ssm:GetParameter"},
			[]string{fakeARN("ssm", "parameter"+naming.JWKSParameter(prefix))}))
	}
	if fn.Permissions.Breakers {
		want = append(want, statementKey([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
			[]string{fakeARN("dynamodb", "table/"+naming.Table(prefix, naming.PlatformService))},
			"ForAllValues:StringLike dynamodb:LeadingKeys [BREAKER#*]"))
	}

	// Without a platform service the breakers have no table: the plan must
	// stop (the manifest loader does not check this).
	if fn.Permissions.Breakers && !platformExists {
		if fd.policyOK {
			bad("%s: asks for breakers, there is no %s service, yet the role policy passes its preconditions", where, naming.PlatformService)
		}
		return problems
	}
	if !fd.policyOK {
		bad("%s: the role policy's precondition fails: %s", where, fd.policyMessage)
	}

	var got []string
	for _, st := range fd.statements {
		for _, arg := range sortedKeys(st) {
			if !slices.Contains([]string{"sid", "actions", "resources", "condition"}, arg) {
				bad("%s: statement %s sets %s; only sid, actions, resources and condition are expected", where, show(st["sid"]), arg)
			}
		}
		actions, ok1 := stringList(st["actions"])
		resources, ok2 := stringList(st["resources"])
		if !ok1 || !ok2 {
			bad("%s: statement %s has actions %s, resources %s", where, show(st["sid"]), show(st["actions"]), show(st["resources"]))
			continue
		}
		var conditions []string
		if c, ok := st["condition"]; ok {
			for it := c.ElementIterator(); it.Next(); {
				_, cond := it.Element()
				test, _ := asString(get(cond, "test"))
				variable, _ := asString(get(cond, "variable"))
				values, _ := stringList(get(cond, "values"))
				slices.Sort(values)
				conditions = append(conditions, fmt.Sprintf("%s %s %v", test, variable, values))
			}
		}
		got = append(got, statementKey(actions, resources, conditions...))
	}
	for _, w := range want {
		if i := slices.Index(got, w); i >= 0 {
			got = slices.Delete(got, i, i+1)
		} else {
			bad("%s: policy lacks the statement %s", where, w)
		}
	}
	for _, g := range got {
		bad("%s: policy has the statement %s, which the manifest does not ask for", where, g)
	}
	return problems
}

// statementKey renders an IAM statement for comparison, order aside.
func statementKey(actions, resources []string, conditions ...string) string {
	actions, resources, conditions = slices.Sorted(slices.Values(actions)), slices.Sorted(slices.Values(resources)), slices.Sorted(slices.Values(conditions))
	key := fmt.Sprintf("%v on %v", actions, resources)
	if len(conditions) > 0 {
		key += fmt.Sprintf(" if %v", conditions)
	}
	return key
}

func keyName(k *manifest.Key) string {
	if k == nil {
		return ""
	}
	return k.Name
}

func diffNames(what string, want, got []string) []string {
	var problems []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			problems = append(problems, fmt.Sprintf("%s %s: in the manifests, missing from Terraform", what, w))
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			problems = append(problems, fmt.Sprintf("%s %s: in Terraform, not in the manifests", what, g))
		}
	}
	return problems
}

func expectString(bad func(string, ...any), where, what string, got cty.Value, want string) {
	if s, ok := asString(got); !ok || s != want {
		bad("%s: %s is %s, want %q", where, what, show(got), want)
	}
}

// expectOptionalString wants null where want is "".
func expectOptionalString(bad func(string, ...any), where, what string, got cty.Value, want string) {
	if want == "" {
		if got.IsKnown() && !got.IsNull() {
			bad("%s: %s is %s, want null", where, what, show(got))
		}
		return
	}
	expectString(bad, where, what, got, want)
}

func expectNumber(bad func(string, ...any), where, what string, got cty.Value, want int) {
	if !got.IsKnown() || got.IsNull() || got.Type() != cty.Number || !got.Equals(cty.NumberIntVal(int64(want))).True() {
		bad("%s: %s is %s, want %d", where, what, show(got), want)
	}
}

func expectTrue(bad func(string, ...any), where, what string, got cty.Value) {
	if !got.IsKnown() || got.IsNull() || got.Type() != cty.Bool || !got.True() {
		bad("%s: %s is %s, want true", where, what, show(got))
	}
}
