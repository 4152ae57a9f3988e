package livediff

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// readAPIs reads the stack's API Gateway v2 APIs with their stages,
// routes, integrations and authorizers, and registers their ids.
func readAPIs(ctx context.Context, sn *snapshot) error {
	var mine []gtypes.Api
	in := &apigatewayv2.GetApisInput{}
	for {
		out, err := sn.apigw.GetApis(ctx, in)
		if err != nil {
			return fmt.Errorf("list apis: %w", err)
		}
		for _, a := range out.Items {
			if sn.n.owns(aws.ToString(a.Name)) {
				mine = append(mine, a)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	apis := map[string]API{}
	for _, a := range mine {
		name := aws.ToString(a.Name)
		// One API is {api}, so that stacks whose APIs differ only in name
		// still share their source ARNs; several are told apart by name.
		token := "{api}"
		if len(mine) > 1 {
			token = "{api:" + name + "}"
		}
		sn.n.id(aws.ToString(a.ApiId), token)
		api, err := readAPI(ctx, sn, a)
		if err != nil {
			return fmt.Errorf("api %s (%s): %w", name, aws.ToString(a.ApiId), err)
		}
		apis[uniqueKey(apis, name)] = api
	}
	sn.s.APIs = apis
	return nil
}

func readAPI(ctx context.Context, sn *snapshot, a gtypes.Api) (API, error) {
	id := a.ApiId
	api := API{
		Protocol:                  string(a.ProtocolType),
		Description:               aws.ToString(a.Description),
		RouteSelection:            aws.ToString(a.RouteSelectionExpression),
		DisableExecuteAPIEndpoint: aws.ToBool(a.DisableExecuteApiEndpoint),
		Stages:                    map[string]Stage{},
		Routes:                    map[string]Route{},
		Integrations:              map[string]Integration{},
		Authorizers:               map[string]Authorizer{},
		Tags:                      a.Tags,
	}
	api.CORS = corsConfig(a.CorsConfiguration)

	authorizers, err := pages(ctx, func(ctx context.Context, next *string) ([]gtypes.Authorizer, *string, error) {
		out, err := sn.apigw.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: id, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.NextToken, nil
	})
	if err != nil {
		return API{}, fmt.Errorf("authorizers: %w", err)
	}
	authorizerName := map[string]string{}
	for _, z := range authorizers {
		name := uniqueKey(api.Authorizers, aws.ToString(z.Name))
		authorizerName[aws.ToString(z.AuthorizerId)] = name
		// As for APIs: one authorizer is {authorizer}, several go by name.
		token := "{authorizer}"
		if len(authorizers) > 1 {
			token = "{authorizer:" + name + "}"
		}
		sn.n.id(aws.ToString(z.AuthorizerId), token)
		api.Authorizers[name] = Authorizer{
			Type:            string(z.AuthorizerType),
			PayloadVersion:  aws.ToString(z.AuthorizerPayloadFormatVersion),
			SimpleResponses: aws.ToBool(z.EnableSimpleResponses),
			IdentitySource:  z.IdentitySource,
			TTLSeconds:      aws.ToInt32(z.AuthorizerResultTtlInSeconds),
			Function:        functionOf(aws.ToString(z.AuthorizerUri)),
			URI:             aws.ToString(z.AuthorizerUri),
			Credentials:     aws.ToString(z.AuthorizerCredentialsArn),
			JWT:             jwtConfig(z.JwtConfiguration),
		}
	}

	integrations, err := pages(ctx, func(ctx context.Context, next *string) ([]gtypes.Integration, *string, error) {
		out, err := sn.apigw.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: id, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.NextToken, nil
	})
	if err != nil {
		return API{}, fmt.Errorf("integrations: %w", err)
	}
	// Sorted by id, so twins of one function get their " (2)" the same way
	// every time.
	slices.SortFunc(integrations, func(x, y gtypes.Integration) int {
		return strings.Compare(aws.ToString(x.IntegrationId), aws.ToString(y.IntegrationId))
	})
	integrationKey := map[string]string{}
	for _, in := range integrations {
		uri := aws.ToString(in.IntegrationUri)
		fn := functionOf(uri)
		key := fn
		if key == "" {
			key = uri
		}
		key = uniqueKey(api.Integrations, key)
		integrationKey[aws.ToString(in.IntegrationId)] = key
		sn.n.id(aws.ToString(in.IntegrationId), "{integration:"+key+"}")
		api.Integrations[key] = Integration{
			Type:              string(in.IntegrationType),
			Method:            aws.ToString(in.IntegrationMethod),
			PayloadVersion:    aws.ToString(in.PayloadFormatVersion),
			Function:          fn,
			URI:               uri,
			ConnectionType:    string(in.ConnectionType),
			TimeoutMillis:     aws.ToInt32(in.TimeoutInMillis),
			Credentials:       aws.ToString(in.CredentialsArn),
			Description:       aws.ToString(in.Description),
			RequestParameters: in.RequestParameters,
		}
	}

	routes, err := pages(ctx, func(ctx context.Context, next *string) ([]gtypes.Route, *string, error) {
		out, err := sn.apigw.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.NextToken, nil
	})
	if err != nil {
		return API{}, fmt.Errorf("routes: %w", err)
	}
	slices.SortFunc(routes, func(x, y gtypes.Route) int {
		return strings.Compare(aws.ToString(x.RouteId), aws.ToString(y.RouteId))
	})
	for _, r := range routes {
		key := uniqueKey(api.Routes, aws.ToString(r.RouteKey))
		sn.n.id(aws.ToString(r.RouteId), "{route:"+key+"}")
		route := Route{
			// An emulator that stores no type means NONE, as AWS reports
			// for a route created without one.
			AuthorizationType:   string(r.AuthorizationType),
			AuthorizationScopes: r.AuthorizationScopes,
			APIKeyRequired:      aws.ToBool(r.ApiKeyRequired),
			OperationName:       aws.ToString(r.OperationName),
			Target:              aws.ToString(r.Target),
		}
		if route.AuthorizationType == "" {
			route.AuthorizationType = string(gtypes.AuthorizationTypeNone)
		}
		if zid := aws.ToString(r.AuthorizerId); zid != "" {
			route.Authorizer = zid // an authorizer this API lacks stays an id
			if name, ok := authorizerName[zid]; ok {
				route.Authorizer = name
			}
		}
		if iid, ok := strings.CutPrefix(route.Target, "integrations/"); ok {
			if k, ok := integrationKey[iid]; ok {
				route.Target = "integration " + k
			}
		}
		api.Routes[key] = route
	}

	stages, err := pages(ctx, func(ctx context.Context, next *string) ([]gtypes.Stage, *string, error) {
		out, err := sn.apigw.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: id, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.NextToken, nil
	})
	if err != nil {
		return API{}, fmt.Errorf("stages: %w", err)
	}
	for _, s := range stages {
		st := Stage{
			AutoDeploy:           aws.ToBool(s.AutoDeploy),
			Description:          aws.ToString(s.Description),
			DefaultRouteSettings: routeSettings(s.DefaultRouteSettings),
			Variables:            s.StageVariables,
			Tags:                 s.Tags,
		}
		for k, rs := range s.RouteSettings {
			if st.RouteSettings == nil {
				st.RouteSettings = map[string]string{}
			}
			st.RouteSettings[k] = routeSettings(&rs)
		}
		if l := s.AccessLogSettings; l != nil {
			st.AccessLogDestination = aws.ToString(l.DestinationArn)
			st.AccessLogFormat = canonicalJSON(aws.ToString(l.Format))
		}
		api.Stages[uniqueKey(api.Stages, aws.ToString(s.StageName))] = st
	}
	return api, nil
}

// pages collects every page of a NextToken-paginated list.
func pages[T any](ctx context.Context, page func(context.Context, *string) ([]T, *string, error)) ([]T, error) {
	var all []T
	var next *string
	for {
		items, token, err := page(ctx, next)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if aws.ToString(token) == "" {
			return all, nil
		}
		next = token
	}
}

// uniqueKey is key, or key with " (2)", " (3)"... when m has it already:
// twins (two routes with one key) show instead of hiding each other.
func uniqueKey[V any](m map[string]V, key string) string {
	out := key
	for i := 2; ; i++ {
		if _, dup := m[out]; !dup {
			return out
		}
		out = fmt.Sprintf("%s (%d)", key, i)
	}
}

// routeSettings is the throttling and metrics of a route, as canonical JSON
// without unset fields; "" when nothing is set.
func routeSettings(rs *gtypes.RouteSettings) string {
	if rs == nil {
		return ""
	}
	return compactJSON(rs)
}

// corsConfig is a CORS configuration as API Gateway applies it: each list
// a set, sorted (the provider sends its sets in an order of its own, the
// deployer the model's), header names and methods in lower case (AWS reads
// header names back so); "" for none.
func corsConfig(c *gtypes.Cors) string {
	if c == nil {
		return ""
	}
	set := func(items []string, fold bool) []string {
		out := slices.Clone(items)
		for i := range out {
			if fold {
				out[i] = strings.ToLower(out[i])
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	n := *c
	n.AllowOrigins = set(c.AllowOrigins, false)
	n.AllowMethods = set(c.AllowMethods, true)
	n.AllowHeaders = set(c.AllowHeaders, true)
	n.ExposeHeaders = set(c.ExposeHeaders, true)
	return compactJSON(n)
}

func jwtConfig(j *gtypes.JWTConfiguration) string {
	if j == nil || len(j.Audience) == 0 && aws.ToString(j.Issuer) == "" {
		return ""
	}
	return compactJSON(j)
}

// compactJSON encodes v as JSON with sorted keys, leaving out null, false,
// empty string and empty collection fields, so what an emulator or a
// provider leaves unset and what it sets to its default read the same;
// "" when nothing is left. Numbers stay, zero included: a throttling limit
// of 0 blocks every request, where no limit blocks none.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return string(b)
	}
	generic = dropEmpty(generic)
	if generic == nil {
		return ""
	}
	out, _ := json.Marshal(generic)
	return string(out)
}

func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = dropEmpty(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		if len(v) == 0 {
			return nil
		}
		return v
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	}
	return v
}
