package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// ensureHTTPAPI makes the model's HTTP API route every route key to an
// AWS_PROXY integration of its function, behind the Lambda authorizer
// where the model says CUSTOM; removes routes (and authorizers) the model
// no longer has; serves it on an auto-deployed, throttled stage that logs
// every request to the access log group; and lets API Gateway
// invoke each function from its own route (the authorizer from itself)
// and from nowhere else. apiID is the API ensureAPI made (before the
// functions, whose bindings need its URL); arns maps manifest names to
// function ARNs.
func (d *deployer) ensureHTTPAPI(ctx context.Context, apiID string, arns map[string]string) error {
	api := d.model.API
	authorizerID, staleAuthorizers, err := d.ensureAuthorizer(ctx, apiID, arns)
	if err != nil {
		return err
	}
	routes := d.model.Routes()
	integrations, orphans, err := d.ensureIntegrations(ctx, apiID, routes, arns)
	if err != nil {
		return err
	}
	if err := d.ensureRoutes(ctx, apiID, routes, integrations, authorizerID); err != nil {
		return err
	}
	// Only now that no route points at them any more.
	if err := d.deleteIntegrations(ctx, apiID, orphans); err != nil {
		return err
	}
	if err := d.deleteAuthorizers(ctx, apiID, staleAuthorizers); err != nil {
		return err
	}
	accessLogARN, err := d.ensureLogGroup(ctx, api.AccessLogGroup, int32(d.model.Settings.LogRetentionDays))
	if err != nil {
		return err
	}
	if err := d.ensureStage(ctx, apiID, accessLogARN); err != nil {
		return err
	}
	execution := executeAPIARN(d.region, d.account, apiID)
	for _, fn := range routes {
		// This function's own route, on any stage: API Gateway invokes it as
		// <execution ARN>/<stage>/<METHOD>/<path, each parameter a *>.
		if err := d.ensureInvokePermission(ctx, fn.FunctionName, fn.Route.PermissionID, execution+"/"+fn.Route.InvokeSource); err != nil {
			return err
		}
	}
	if api.Authorizer != nil {
		// Only this authorizer of this API: API Gateway invokes an
		// authorizer function as <execution ARN>/authorizers/<id>.
		fn := d.model.Function(api.Authorizer.Function)
		if err := d.ensureInvokePermission(ctx, fn.FunctionName, api.Authorizer.PermissionID, execution+"/authorizers/"+authorizerID); err != nil {
			return err
		}
	}
	return nil
}

// legacyAPIName is what the deployer called the API before the model named
// it (<prefix>-api): a stack deployed then is taken over by renaming its
// API, which keeps its id, URL, routes and integrations.
func legacyAPIName(prefix string) string { return prefix + "-http" }

// apiPlan is what ensureAPI does with the HTTP APIs that carry the
// stack's name or its legacy name: use keep ("" creates one), renaming it
// when it has the legacy name, and delete the rest.
type apiPlan struct {
	keep   string
	rename bool
	delete []string
}

// planAPI decides from the ids of the APIs with the model's name and with
// the legacy name. API ids are random, so the name is the only stable
// handle: two APIs with one name is an error rather than a guess, and a
// run never creates a second one. An API with the legacy name beside one
// with the model's is the old deployer's, run after the new one: it goes.
func planAPI(name string, current, legacy []string) (apiPlan, error) {
	switch {
	case len(current) > 1:
		return apiPlan{}, fmt.Errorf("api %s: %d HTTP APIs have this name (%v); delete all but one", name, len(current), sorted(current))
	case len(current) == 1:
		return apiPlan{keep: current[0], delete: sorted(legacy)}, nil
	case len(legacy) > 1:
		return apiPlan{}, fmt.Errorf("api %s: none has this name, and %d have the old one (%v); delete all but one", name, len(legacy), sorted(legacy))
	case len(legacy) == 1:
		return apiPlan{keep: legacy[0], rename: true}, nil
	}
	return apiPlan{}, nil
}

func sorted(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

// ensureAPI finds the model's API by name, or takes over the legacy one,
// or creates it, gives it the model's description and CORS configuration
// (wantCORS), and returns its id.
func (d *deployer) ensureAPI(ctx context.Context) (string, error) {
	name, legacy := d.model.API.Name, legacyAPIName(d.model.Prefix)
	description := d.model.API.Description
	cors := wantCORS(d.model.API.CORS, d.corsOrigins)
	byName, err := d.listHTTPAPIs(ctx)
	if err != nil {
		return "", err
	}
	plan, err := planAPI(name, apiIDs(byName[name]), apiIDs(byName[legacy]))
	if err != nil {
		return "", err
	}
	for _, id := range plan.delete {
		if _, err := d.apigw.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return "", fmt.Errorf("api %s (%s): delete: %w", legacy, id, err)
		}
		d.p.report("api", legacy+" "+id, statusDeleted)
	}
	if plan.keep == "" {
		out, err := d.apigw.CreateApi(ctx, &apigatewayv2.CreateApiInput{
			Name:              &name,
			Description:       &description,
			ProtocolType:      gtypes.ProtocolTypeHttp,
			CorsConfiguration: cors,
		})
		if err != nil {
			return "", fmt.Errorf("api %s: create: %w", name, err)
		}
		id := aws.ToString(out.ApiId)
		if sentMoreThanOnce(out.ResultMetadata) {
			if err := d.deleteOtherAPIs(ctx, name, id); err != nil {
				return "", err
			}
		}
		d.p.report("api", name, statusCreated)
		return id, nil
	}
	have := byName[name]
	if plan.rename {
		have = byName[legacy]
	}
	up := apiUpdate(have[0], name, description, cors)
	if up.update == nil && !up.deleteCORS {
		d.p.report("api", name, statusUnchanged)
		return plan.keep, nil
	}
	if up.update != nil {
		up.update.ApiId = &plan.keep
		if _, err := d.apigw.UpdateApi(ctx, up.update); err != nil {
			return "", fmt.Errorf("api %s (%s): update (%s): %w", name, plan.keep, strings.Join(up.diff, ", "), err)
		}
	}
	// UpdateApi replaces a CORS configuration but cannot remove one (AWS
	// and MiniStack alike): DeleteCorsConfiguration does, as Terraform
	// does when cors_configuration goes.
	if up.deleteCORS {
		if _, err := d.apigw.DeleteCorsConfiguration(ctx, &apigatewayv2.DeleteCorsConfigurationInput{ApiId: &plan.keep}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return "", fmt.Errorf("api %s (%s): delete CORS configuration: %w", name, plan.keep, err)
		}
	}
	d.p.report("api", name, statusUpdated)
	return plan.keep, nil
}

// apiChange is what brings an existing API to the model: an UpdateApi
// (nil: none needed; its ApiId left for the caller), a
// DeleteCorsConfiguration, and what differs, for errors.
type apiChange struct {
	update     *apigatewayv2.UpdateApiInput
	deleteCORS bool
	diff       []string
}

// apiUpdate compares have with the model's name, description and CORS
// configuration (nil: none).
func apiUpdate(have gtypes.Api, name, description string, cors *gtypes.Cors) apiChange {
	var c apiChange
	in := &apigatewayv2.UpdateApiInput{}
	if aws.ToString(have.Name) != name {
		in.Name = &name
		c.diff = append(c.diff, "name")
	}
	if aws.ToString(have.Description) != description {
		in.Description = &description
		c.diff = append(c.diff, "description")
	}
	if !sameCORS(cors, have.CorsConfiguration) {
		c.diff = append(c.diff, "CORS")
		if cors == nil {
			c.deleteCORS = true
		} else {
			in.CorsConfiguration = cors
		}
	}
	if in.Name != nil || in.Description != nil || in.CorsConfiguration != nil {
		c.update = in
	}
	return c
}

// wantCORS is the API's CORS configuration: the model's with the origins
// of the deployer's setting; nil (none) without origins.
func wantCORS(c *deployment.CORS, origins []string) *gtypes.Cors {
	if c == nil || len(origins) == 0 {
		return nil
	}
	return &gtypes.Cors{
		AllowOrigins:     slices.Clone(origins),
		AllowMethods:     slices.Clone(c.AllowMethods),
		AllowHeaders:     slices.Clone(c.AllowHeaders),
		ExposeHeaders:    slices.Clone(c.ExposeHeaders),
		MaxAge:           aws.Int32(int32(c.MaxAgeSeconds)),
		AllowCredentials: aws.Bool(c.AllowCredentials),
	}
}

// sameCORS compares two CORS configurations (nil: none) as API Gateway
// applies them: each list as a set, header names and methods whatever
// their case (AWS reads header names back in lower case), an unset max
// age as 0 and unset credentials as false. A configuration with nothing
// set is none.
func sameCORS(a, b *gtypes.Cors) bool { return corsKey(a) == corsKey(b) }

func corsKey(c *gtypes.Cors) string {
	if c == nil {
		return ""
	}
	set := func(items []string, fold bool) string {
		out := make([]string, 0, len(items))
		for _, it := range items {
			if fold {
				it = strings.ToLower(it)
			}
			out = append(out, it)
		}
		slices.Sort(out)
		return strings.Join(slices.Compact(out), ",")
	}
	key := fmt.Sprintf("origins=%s methods=%s headers=%s expose=%s maxAge=%d credentials=%t",
		set(c.AllowOrigins, false), set(c.AllowMethods, true), set(c.AllowHeaders, true), set(c.ExposeHeaders, true),
		aws.ToInt32(c.MaxAge), aws.ToBool(c.AllowCredentials))
	if key == "origins= methods= headers= expose= maxAge=0 credentials=false" {
		return ""
	}
	return key
}

// listHTTPAPIs returns the emulator's HTTP APIs by name.
func (d *deployer) listHTTPAPIs(ctx context.Context) (map[string][]gtypes.Api, error) {
	found := map[string][]gtypes.Api{}
	in := &apigatewayv2.GetApisInput{}
	for {
		out, err := d.apigw.GetApis(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("apis: list: %w", err)
		}
		for _, api := range out.Items {
			if api.ProtocolType == gtypes.ProtocolTypeHttp {
				name := aws.ToString(api.Name)
				found[name] = append(found[name], api)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return found, nil
		}
		in.NextToken = out.NextToken
	}
}

func apiIDs(apis []gtypes.Api) []string {
	ids := make([]string, 0, len(apis))
	for _, a := range apis {
		ids = append(ids, aws.ToString(a.ApiId))
	}
	return ids
}

// ensureIntegrations gives each routed function one AWS_PROXY integration,
// found again by its URI (the function ARN). Returns manifest name ->
// integration id, and the integrations no function owns any more, for
// deleteIntegrations once routes no longer point at them.
func (d *deployer) ensureIntegrations(ctx context.Context, apiID string, routes []*deployment.Function, arns map[string]string) (map[string]string, []gtypes.Integration, error) {
	existing, err := d.listIntegrations(ctx, apiID)
	if err != nil {
		return nil, nil, err
	}
	byURI := map[string]gtypes.Integration{}
	for _, in := range existing { // sorted by id: duplicates resolve to the same one every run
		uri := aws.ToString(in.IntegrationUri)
		if _, dup := byURI[uri]; !dup {
			byURI[uri] = in
		}
	}

	payload := d.model.API.PayloadFormatVersion
	ids := map[string]string{}
	keep := map[string]bool{}
	for _, fn := range routes {
		arn := arns[fn.Name]
		if arn == "" {
			return nil, nil, fmt.Errorf("integration %s: no function ARN", fn.Name)
		}
		label := fn.FunctionName
		if in, ok := byURI[arn]; ok {
			id := aws.ToString(in.IntegrationId)
			status := statusUnchanged
			if in.IntegrationType != gtypes.IntegrationTypeAwsProxy || aws.ToString(in.PayloadFormatVersion) != payload {
				_, err := d.apigw.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{
					ApiId:                &apiID,
					IntegrationId:        &id,
					IntegrationType:      gtypes.IntegrationTypeAwsProxy,
					PayloadFormatVersion: &payload,
				})
				if err != nil {
					return nil, nil, fmt.Errorf("integration %s (%s): update: %w", label, id, err)
				}
				status = statusUpdated
			}
			ids[fn.Name], keep[id] = id, true
			d.p.report("integration", label, status)
			continue
		}
		out, err := d.apigw.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
			ApiId:                &apiID,
			IntegrationType:      gtypes.IntegrationTypeAwsProxy,
			IntegrationUri:       aws.String(arn),
			IntegrationMethod:    aws.String("POST"),
			PayloadFormatVersion: &payload,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("integration %s: create: %w", label, err)
		}
		id := aws.ToString(out.IntegrationId)
		if sentMoreThanOnce(out.ResultMetadata) {
			if err := d.deleteOtherIntegrations(ctx, apiID, arn, id); err != nil {
				return nil, nil, err
			}
		}
		ids[fn.Name], keep[id] = id, true
		d.p.report("integration", label, statusCreated)
	}

	var orphans []gtypes.Integration
	for _, in := range existing {
		if id := aws.ToString(in.IntegrationId); !keep[id] {
			orphans = append(orphans, in)
		}
	}
	return ids, orphans, nil
}

func (d *deployer) deleteIntegrations(ctx context.Context, apiID string, orphans []gtypes.Integration) error {
	for _, in := range orphans {
		id := aws.ToString(in.IntegrationId)
		if _, err := d.apigw.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: &apiID, IntegrationId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return fmt.Errorf("integration %s (%s): delete: %w", id, aws.ToString(in.IntegrationUri), err)
		}
		d.p.report("integration", integrationLabel(in), statusDeleted)
	}
	return nil
}

func (d *deployer) listIntegrations(ctx context.Context, apiID string) ([]gtypes.Integration, error) {
	var all []gtypes.Integration
	in := &apigatewayv2.GetIntegrationsInput{ApiId: &apiID}
	for {
		out, err := d.apigw.GetIntegrations(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("api %s: list integrations: %w", apiID, err)
		}
		all = append(all, out.Items...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	sort.Slice(all, func(i, j int) bool { return aws.ToString(all[i].IntegrationId) < aws.ToString(all[j].IntegrationId) })
	return all, nil
}

// integrationLabel names an integration in progress lines by the function
// its URI points at, or by its id when the URI is no function ARN.
func integrationLabel(in gtypes.Integration) string {
	uri := aws.ToString(in.IntegrationUri)
	if i := strings.LastIndex(uri, ":function:"); i >= 0 {
		return uri[i+len(":function:"):]
	}
	return aws.ToString(in.IntegrationId)
}

// routeSpec is what one route must look like.
type routeSpec struct {
	key          string
	target       string
	authType     gtypes.AuthorizationType
	authorizerID string // "" unless authType is CUSTOM
	label        string // function name, for errors
}

// wantRoutes is the route table of the model's routed functions. A route
// the model authorizes CUSTOM goes through the stack's Lambda authorizer:
// it authenticates the caller, and the function checks the scope or
// ownership itself, so one cached verdict per token is right for every
// route.
func wantRoutes(routes []*deployment.Function, integrations map[string]string, authorizerID string) (map[string]routeSpec, error) {
	want := map[string]routeSpec{}
	for _, fn := range routes {
		r := fn.Route
		id := integrations[fn.Name]
		if id == "" {
			return nil, fmt.Errorf("route %s (%s): no integration", r.RouteKey, fn.Name)
		}
		spec := routeSpec{
			key:      r.RouteKey,
			target:   "integrations/" + id,
			authType: gtypes.AuthorizationType(r.AuthorizationType),
			label:    fn.FunctionName,
		}
		if spec.authType == gtypes.AuthorizationTypeCustom {
			if authorizerID == "" {
				return nil, fmt.Errorf("route %s (%s): authorization CUSTOM needs the authorizer, and the model has none", spec.key, fn.Name)
			}
			spec.authorizerID = authorizerID
		}
		want[spec.key] = spec
	}
	return want, nil
}

// routeAction says what to do with an existing route: keep it, update it
// to spec, or delete it (not declared, or a duplicate of a key already kept).
func routeAction(r gtypes.Route, want map[string]routeSpec, kept map[string]bool) string {
	spec, declared := want[aws.ToString(r.RouteKey)]
	switch {
	case !declared || kept[spec.key]:
		return statusDeleted
	case aws.ToString(r.Target) != spec.target,
		routeAuthType(r) != spec.authType,
		aws.ToString(r.AuthorizerId) != spec.authorizerID:
		return statusUpdated
	}
	return statusUnchanged
}

// routeAuthType reads an emulator's missing authorization type as NONE,
// which is what AWS reports for a route created without one.
func routeAuthType(r gtypes.Route) gtypes.AuthorizationType {
	if r.AuthorizationType == "" {
		return gtypes.AuthorizationTypeNone
	}
	return r.AuthorizationType
}

// updateRouteInput brings route r to spec. A route going from CUSTOM to NONE
// has its authorizer id cleared with an empty string (as Terraform does), so
// the old authorizer is no longer attached and can be deleted.
func updateRouteInput(apiID string, r gtypes.Route, spec routeSpec) *apigatewayv2.UpdateRouteInput {
	in := &apigatewayv2.UpdateRouteInput{
		ApiId:             aws.String(apiID),
		RouteId:           r.RouteId,
		Target:            aws.String(spec.target),
		AuthorizationType: spec.authType,
	}
	if spec.authorizerID != "" || aws.ToString(r.AuthorizerId) != "" {
		in.AuthorizerId = aws.String(spec.authorizerID)
	}
	return in
}

func (d *deployer) ensureRoutes(ctx context.Context, apiID string, routes []*deployment.Function, integrations map[string]string, authorizerID string) error {
	want, err := wantRoutes(routes, integrations, authorizerID)
	if err != nil {
		return err
	}
	existing, err := d.listRoutes(ctx, apiID)
	if err != nil {
		return err
	}
	// By key, then id: output in a stable order, and of duplicate routes the
	// same one is kept every run.
	sort.Slice(existing, func(i, j int) bool {
		ki, kj := aws.ToString(existing[i].RouteKey), aws.ToString(existing[j].RouteKey)
		if ki != kj {
			return ki < kj
		}
		return aws.ToString(existing[i].RouteId) < aws.ToString(existing[j].RouteId)
	})

	kept := map[string]bool{}
	for _, r := range existing {
		key, id := aws.ToString(r.RouteKey), aws.ToString(r.RouteId)
		switch routeAction(r, want, kept) {
		case statusDeleted:
			if _, err := d.apigw.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: &apiID, RouteId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
				return fmt.Errorf("route %s (%s): delete: %w", key, id, err)
			}
			d.p.report("route", key, statusDeleted)
		case statusUpdated:
			spec := want[key]
			if _, err := d.apigw.UpdateRoute(ctx, updateRouteInput(apiID, r, spec)); err != nil {
				return fmt.Errorf("route %s (%s): update: %w", key, spec.label, err)
			}
			kept[key] = true
			d.p.report("route", key, statusUpdated)
		default:
			kept[key] = true
			d.p.report("route", key, statusUnchanged)
		}
	}

	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if kept[k] {
			continue
		}
		spec := want[k]
		in := &apigatewayv2.CreateRouteInput{
			ApiId:             &apiID,
			RouteKey:          &spec.key,
			Target:            &spec.target,
			AuthorizationType: spec.authType,
		}
		if spec.authorizerID != "" {
			in.AuthorizerId = &spec.authorizerID
		}
		out, err := d.apigw.CreateRoute(ctx, in)
		if err != nil {
			return fmt.Errorf("route %s (%s): create: %w", k, spec.label, err)
		}
		if sentMoreThanOnce(out.ResultMetadata) {
			if err := d.deleteOtherRoutes(ctx, apiID, k, aws.ToString(out.RouteId)); err != nil {
				return err
			}
		}
		d.p.report("route", k, statusCreated)
	}
	return nil
}

func (d *deployer) listRoutes(ctx context.Context, apiID string) ([]gtypes.Route, error) {
	var all []gtypes.Route
	in := &apigatewayv2.GetRoutesInput{ApiId: &apiID}
	for {
		out, err := d.apigw.GetRoutes(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("api %s: list routes: %w", apiID, err)
		}
		all = append(all, out.Items...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
}

// stageSpec is what the model decides of the API's stage: auto-deploy, so
// route changes are live without explicit deployments; the stack's
// throttling for every route, and the tighter password throttling for the
// routes of functions that hash passwords (keyed by route key); one access
// log line per request into the access log group.
type stageSpec struct {
	autoDeploy   bool
	defaultRoute gtypes.RouteSettings
	routes       map[string]gtypes.RouteSettings
	accessLog    gtypes.AccessLogSettings
}

// wantStage is the model's stage, logging to the group accessLogARN.
func wantStage(model *deployment.Deployment, accessLogARN string) stageSpec {
	s := stageSpec{
		autoDeploy:   true,
		defaultRoute: throttle(model.Settings.Throttling),
		routes:       map[string]gtypes.RouteSettings{},
		accessLog:    gtypes.AccessLogSettings{DestinationArn: aws.String(accessLogARN), Format: aws.String(model.API.AccessLogFormat)},
	}
	for _, fn := range model.Routes() {
		if fn.HashesPasswords {
			s.routes[fn.Route.RouteKey] = throttle(model.Settings.PasswordThrottling)
		}
	}
	return s
}

func throttle(t deployment.Throttling) gtypes.RouteSettings {
	return gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(int32(t.Burst)), ThrottlingRateLimit: aws.Float64(t.Rate)}
}

func haveStage(out *apigatewayv2.GetStageOutput) stageSpec {
	s := stageSpec{autoDeploy: aws.ToBool(out.AutoDeploy), routes: out.RouteSettings}
	if out.DefaultRouteSettings != nil {
		s.defaultRoute = *out.DefaultRouteSettings
	}
	if out.AccessLogSettings != nil {
		s.accessLog = *out.AccessLogSettings
	}
	return s
}

// stageDiff names what of have differs from want; empty means no
// UpdateStage is needed. Of route settings only the throttling is the
// model's; an unset limit differs from every number (0 blocks all
// requests, unset blocks none).
func stageDiff(want, have stageSpec) []string {
	var diff []string
	if want.autoDeploy != have.autoDeploy {
		diff = append(diff, "auto-deploy")
	}
	if !sameThrottle(want.defaultRoute, have.defaultRoute) {
		diff = append(diff, "throttling")
	}
	if !maps.EqualFunc(want.routes, have.routes, sameThrottle) {
		diff = append(diff, "route throttling")
	}
	if aws.ToString(want.accessLog.DestinationArn) != aws.ToString(have.accessLog.DestinationArn) ||
		aws.ToString(want.accessLog.Format) != aws.ToString(have.accessLog.Format) {
		diff = append(diff, "access log")
	}
	return diff
}

func sameThrottle(a, b gtypes.RouteSettings) bool {
	return samePtr(a.ThrottlingBurstLimit, b.ThrottlingBurstLimit) && samePtr(a.ThrottlingRateLimit, b.ThrottlingRateLimit)
}

func samePtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// staleRouteSettings are the route keys have holds settings for and the
// model does not (a function that no longer hashes passwords, a route
// that is gone), sorted.
func staleRouteSettings(want, have stageSpec) []string {
	var stale []string
	for key := range have.routes {
		if _, ok := want.routes[key]; !ok {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	return stale
}

// ensureStage serves the API on the model's stage (stageSpec), with
// access logs to the group accessLogARN.
func (d *deployer) ensureStage(ctx context.Context, apiID, accessLogARN string) error {
	stage := d.model.API.Stage
	label := d.model.API.Name + " " + stage
	want := wantStage(d.model, accessLogARN)
	got, err := d.apigw.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &apiID, StageName: &stage})
	if awserr.HasCode(err, "NotFoundException") {
		_, err := d.apigw.CreateStage(ctx, &apigatewayv2.CreateStageInput{
			ApiId:                &apiID,
			StageName:            &stage,
			AutoDeploy:           aws.Bool(want.autoDeploy),
			DefaultRouteSettings: &want.defaultRoute,
			RouteSettings:        want.routes,
			AccessLogSettings:    &want.accessLog,
		})
		// A conflict is our own create, retried after a lost response
		// (retried.go): the stage exists, with what we asked for.
		if err != nil && !awserr.HasCode(err, "ConflictException") {
			return fmt.Errorf("stage %s: create: %w", label, err)
		}
		d.p.report("stage", label, statusCreated)
		return nil
	}
	if err != nil {
		return fmt.Errorf("stage %s: get: %w", label, err)
	}
	have := haveStage(got)
	diff := stageDiff(want, have)
	if len(diff) == 0 {
		d.p.report("stage", label, statusUnchanged)
		return nil
	}
	// The whole stage in one call, which is safe to repeat. It sends every
	// route setting the model wants: MiniStack 1.5.33 replaces the stage's
	// map with it, AWS merges it into the map.
	_, err = d.apigw.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{
		ApiId:                &apiID,
		StageName:            &stage,
		AutoDeploy:           aws.Bool(want.autoDeploy),
		DefaultRouteSettings: &want.defaultRoute,
		RouteSettings:        want.routes,
		AccessLogSettings:    &want.accessLog,
	})
	if err != nil {
		return fmt.Errorf("stage %s: update (%s): %w", label, strings.Join(diff, ", "), err)
	}
	if err := d.deleteStaleRouteSettings(ctx, apiID, label, staleRouteSettings(want, have)); err != nil {
		return err
	}
	d.p.report("stage", label, statusUpdated)
	return nil
}

// deleteStaleRouteSettings removes the route settings of keys, where the
// update above left them (AWS, which merges route settings). Only then:
// MiniStack 1.5.33 has already dropped them, and its DeleteRouteSettings
// deletes the whole stage (its router takes
// /stages/<name>/routesettings/<key> for /stages/<name>).
func (d *deployer) deleteStaleRouteSettings(ctx context.Context, apiID, label string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	stage := d.model.API.Stage
	got, err := d.apigw.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &apiID, StageName: &stage})
	if err != nil {
		return fmt.Errorf("stage %s: get: %w", label, err)
	}
	for _, key := range keys {
		if _, left := got.RouteSettings[key]; !left {
			continue
		}
		_, err := d.apigw.DeleteRouteSettings(ctx, &apigatewayv2.DeleteRouteSettingsInput{ApiId: &apiID, StageName: &stage, RouteKey: &key})
		if err != nil && !awserr.HasCode(err, "NotFoundException") {
			return fmt.Errorf("stage %s: delete route settings of %s: %w", label, key, err)
		}
	}
	return nil
}

// legacyStatementPrefix starts the ids of the grants the deployer gave API
// Gateway before the model named them (one per API id): a stack deployed
// then converges to the model's grants.
const legacyStatementPrefix = "apigateway-"

// managedGrant says whether a resource-policy statement is one of the
// deployer's grants to API Gateway, which ensureInvokePermission replaces
// by the one the model wants.
func managedGrant(sid string) bool {
	return sid == deployment.RoutePermissionID || sid == deployment.AuthorizerPermissionID || strings.HasPrefix(sid, legacyStatementPrefix)
}

// executeAPIARN is the execution ARN of an API: the source API Gateway
// invokes as is this followed by "/<stage>/<METHOD>/<path>" for a route or
// "/authorizers/<id>" for an authorizer.
func executeAPIARN(region, account, apiID string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s", region, account, apiID)
}

// ensureInvokePermission lets API Gateway invoke fn from exactly source
// under statement id sid, and removes every other grant of the deployer's
// (managedGrant) from fn.
func (d *deployer) ensureInvokePermission(ctx context.Context, fn, sid, source string) error {
	grants, err := d.apiGatewayGrants(ctx, fn)
	if err != nil {
		return err
	}
	have, granted := grants[sid]
	granted = granted && have == source
	removed := false
	for gotSID, gotSource := range grants {
		if gotSID == sid && gotSource == source {
			continue
		}
		if _, err := d.lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: &fn, StatementId: aws.String(gotSID)}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
			return fmt.Errorf("permission %s: remove %s: %w", fn, gotSID, err)
		}
		removed = true
	}
	status := statusUnchanged
	switch {
	case removed:
		status = statusUpdated
	case !granted:
		status = statusCreated
	}
	if granted {
		d.p.report("permission", fn, status)
		return nil
	}
	_, err = d.lambda.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: &fn,
		StatementId:  &sid,
		Action:       aws.String("lambda:InvokeFunction"),
		Principal:    aws.String("apigateway.amazonaws.com"),
		SourceArn:    &source,
	})
	if awserr.HasCode(err, "ResourceConflictException") {
		// The statement exists already: our own first attempt, applied but
		// its response lost and the request retried by the SDK (the
		// emulator does that under load), or a concurrent deploy. Either is
		// fine if it grants exactly what we want.
		if grants, gerr := d.apiGatewayGrants(ctx, fn); gerr == nil && grants[sid] == source {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("permission %s: add %s: %w", fn, sid, err)
	}
	d.p.report("permission", fn, status)
	return nil
}

// apiGatewayGrants returns fn's resource-policy statements that are the
// deployer's grants to API Gateway: statement id -> source ARN.
func (d *deployer) apiGatewayGrants(ctx context.Context, fn string) (map[string]string, error) {
	out, err := d.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &fn})
	if awserr.HasCode(err, "ResourceNotFoundException") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("permission %s: get policy: %w", fn, err)
	}
	var policy struct {
		Statement []struct {
			Sid       string
			Condition struct {
				ArnLike map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &policy); err != nil {
		return nil, fmt.Errorf("permission %s: policy is not JSON: %w", fn, err)
	}
	grants := map[string]string{}
	for _, st := range policy.Statement {
		if managedGrant(st.Sid) {
			grants[st.Sid] = st.Condition.ArnLike["AWS:SourceArn"]
		}
	}
	return grants, nil
}

// deleteOtherAPIs deletes every HTTP API named name but keep: the APIs a
// create the SDK retried made besides the one it answered with
// (retried.go). Nothing refers to them yet.
func (d *deployer) deleteOtherAPIs(ctx context.Context, name, keep string) error {
	byName, err := d.listHTTPAPIs(ctx)
	if err != nil {
		return err
	}
	for _, id := range apiIDs(byName[name]) {
		if id == keep {
			continue
		}
		if _, err := d.apigw.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return fmt.Errorf("api %s (%s, a retried create's twin): delete: %w", name, id, err)
		}
	}
	return nil
}

// deleteOtherIntegrations deletes the integrations of apiID with uri but
// keep: a retried create's twins (retried.go).
func (d *deployer) deleteOtherIntegrations(ctx context.Context, apiID, uri, keep string) error {
	all, err := d.listIntegrations(ctx, apiID)
	if err != nil {
		return err
	}
	var twins []gtypes.Integration
	for _, in := range all {
		if aws.ToString(in.IntegrationUri) == uri && aws.ToString(in.IntegrationId) != keep {
			twins = append(twins, in)
		}
	}
	return d.deleteIntegrations(ctx, apiID, twins)
}

// deleteOtherRoutes deletes the routes of apiID with key but keep: a
// retried create's twins (retried.go).
func (d *deployer) deleteOtherRoutes(ctx context.Context, apiID, key, keep string) error {
	routes, err := d.listRoutes(ctx, apiID)
	if err != nil {
		return err
	}
	for _, r := range routes {
		id := aws.ToString(r.RouteId)
		if aws.ToString(r.RouteKey) != key || id == keep {
			continue
		}
		if _, err := d.apigw.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: &apiID, RouteId: &id}); err != nil && !awserr.HasCode(err, "NotFoundException") {
			return fmt.Errorf("route %s (%s, a retried create's twin): delete: %w", key, id, err)
		}
	}
	return nil
}
