package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// mappingWait bounds the wait for a mapping to leave a transitional state
// (Creating, Updating, ...): AWS takes seconds to a minute, MiniStack none.
const mappingWait = 2 * time.Minute

// ensureMappings gives each consumer its queue's mapping and each relay its
// table stream's, after the functions (a mapping names one) and the rules
// (so the queue fills only once there is someone to read it, whichever
// comes first does no harm). Every other mapping of a model function goes:
// one of an old stream (a table whose stream was switched off and on has
// a new one), of a queue it no longer reads, or of a function that is no
// longer a consumer or relay. Mappings of functions the model no longer
// has go with them (prune.go).
func (d *deployer) ensureMappings(ctx context.Context) error {
	for i := range d.model.Functions {
		fn := &d.model.Functions[i]
		var want *mappingConfig
		switch {
		case fn.Consumer != nil:
			m := queueMapping(fn.Consumer)
			want = &m
		case fn.Relay != nil:
			stream, err := d.tableStream(ctx, fn.Relay.Table)
			if err != nil {
				return err
			}
			m := streamMapping(fn.Relay, stream)
			want = &m
		}
		if err := d.ensureMapping(ctx, fn.FunctionName, want); err != nil {
			return err
		}
	}
	return nil
}

// mappingConfig is the part of an event source mapping the model decides;
// mappingDiff compares it field by field.
type mappingConfig struct {
	Source             string
	BatchSize          int32
	ResponseTypes      []string
	MaximumConcurrency int32 // 0: no ScalingConfig

	// Stream mappings only.
	StartingPosition string
	FilterPatterns   []string
	Bisect           bool
	MaxRetryAttempts *int32 // nil: not a stream mapping (SQS has none)
	MaxRecordAgeSecs *int32
	OnFailure        string
}

// queueMapping is the mapping from a consumer's queue to the consumer.
func queueMapping(c *deployment.Consumer) mappingConfig {
	return mappingConfig{
		Source:             c.Queue.ARN,
		BatchSize:          int32(c.Mapping.BatchSize),
		ResponseTypes:      slices.Clone(c.Mapping.FunctionResponseTypes),
		MaximumConcurrency: int32(c.Mapping.MaximumConcurrency),
	}
}

// streamMapping is the mapping from the table stream stream (its ARN) to a
// relay.
func streamMapping(r *deployment.Relay, stream string) mappingConfig {
	return mappingConfig{
		Source:           stream,
		BatchSize:        int32(r.BatchSize),
		StartingPosition: r.StartingPosition,
		FilterPatterns:   []string{r.FilterPattern},
		Bisect:           r.BisectOnError,
		MaxRetryAttempts: aws.Int32(int32(r.MaximumRetryAttempts)),
		MaxRecordAgeSecs: aws.Int32(int32(r.MaximumRecordAgeSecs)),
		OnFailure:        r.DeadLetterQueue.ARN,
	}
}

// haveMapping reads the fields of mappingConfig from a mapping.
func haveMapping(m ltypes.EventSourceMappingConfiguration) mappingConfig {
	have := mappingConfig{
		Source:           aws.ToString(m.EventSourceArn),
		BatchSize:        aws.ToInt32(m.BatchSize),
		StartingPosition: string(m.StartingPosition),
		Bisect:           aws.ToBool(m.BisectBatchOnFunctionError),
		MaxRetryAttempts: m.MaximumRetryAttempts,
		MaxRecordAgeSecs: m.MaximumRecordAgeInSeconds,
	}
	for _, t := range m.FunctionResponseTypes {
		have.ResponseTypes = append(have.ResponseTypes, string(t))
	}
	if m.ScalingConfig != nil {
		have.MaximumConcurrency = aws.ToInt32(m.ScalingConfig.MaximumConcurrency)
	}
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			have.FilterPatterns = append(have.FilterPatterns, aws.ToString(f.Pattern))
		}
	}
	if m.DestinationConfig != nil && m.DestinationConfig.OnFailure != nil {
		have.OnFailure = aws.ToString(m.DestinationConfig.OnFailure.Destination)
	}
	return have
}

// mappingDiff names the fields of have that differ from want, in a fixed
// order. The source and the starting position cannot change in place
// (replace says so); the rest can.
func mappingDiff(want, have mappingConfig) (diff []string, replace bool) {
	eqInt := func(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	samePatterns := len(want.FilterPatterns) == len(have.FilterPatterns)
	for i := range want.FilterPatterns {
		samePatterns = samePatterns && sameJSON(want.FilterPatterns[i], have.FilterPatterns[i])
	}
	for _, f := range []struct {
		name string
		same bool
	}{
		{"source", want.Source == have.Source},
		{"starting position", want.StartingPosition == have.StartingPosition},
		{"batch size", want.BatchSize == have.BatchSize},
		{"response types", slices.Equal(want.ResponseTypes, have.ResponseTypes)},
		{"maximum concurrency", want.MaximumConcurrency == have.MaximumConcurrency},
		{"filter", samePatterns},
		{"bisect", want.Bisect == have.Bisect},
		// A queue mapping has no retry limit or record age: SQS's
		// maxReceiveCount is its limit. Compared on stream mappings only.
		{"retry attempts", want.MaxRetryAttempts == nil || eqInt(want.MaxRetryAttempts, have.MaxRetryAttempts)},
		{"record age", want.MaxRecordAgeSecs == nil || eqInt(want.MaxRecordAgeSecs, have.MaxRecordAgeSecs)},
		{"on-failure destination", want.OnFailure == have.OnFailure},
	} {
		if !f.same {
			diff = append(diff, f.name)
			replace = replace || f.name == "source" || f.name == "starting position"
		}
	}
	return diff, replace
}

// tableStream is the ARN of the table's current stream.
func (d *deployer) tableStream(ctx context.Context, table string) (string, error) {
	out, err := d.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return "", fmt.Errorf("table %s: describe: %w", table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" || out.Table.StreamSpecification == nil || !aws.ToBool(out.Table.StreamSpecification.StreamEnabled) {
		return "", fmt.Errorf("table %s: no stream, and its relay reads one", table)
	}
	return arn, nil
}

// functionMappings lists the mappings of the function name, but those
// being deleted.
func (d *deployer) functionMappings(ctx context.Context, name string) ([]ltypes.EventSourceMappingConfiguration, error) {
	var out []ltypes.EventSourceMappingConfiguration
	pages := lambda.NewListEventSourceMappingsPaginator(d.lambda, &lambda.ListEventSourceMappingsInput{FunctionName: &name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("function %s: list event source mappings: %w", name, err)
		}
		for _, m := range page.EventSourceMappings {
			if aws.ToString(m.State) != "Deleting" {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// ensureMapping leaves the function name with exactly the mapping want
// (none when nil).
func (d *deployer) ensureMapping(ctx context.Context, name string, want *mappingConfig) error {
	have, err := d.functionMappings(ctx, name)
	if err != nil {
		return err
	}
	// The one to keep: the first of the wanted source (twins, which a
	// create retried after a lost response makes on MiniStack, go too).
	keep := -1
	if want != nil {
		keep = slices.IndexFunc(have, func(m ltypes.EventSourceMappingConfiguration) bool {
			return aws.ToString(m.EventSourceArn) == want.Source
		})
	}
	deleted := false
	for i, m := range have {
		if i == keep {
			continue
		}
		if err := d.deleteMapping(ctx, name, m); err != nil {
			return err
		}
		deleted = true
	}
	if want == nil {
		if deleted {
			d.p.report("mapping", name, statusDeleted)
		}
		return nil
	}
	status := statusUnchanged
	if keep < 0 {
		if err := d.createMapping(ctx, name, *want); err != nil {
			return err
		}
		d.p.report("mapping", name, statusCreated)
		return nil
	}
	m := have[keep]
	diff, replace := mappingDiff(*want, haveMapping(m))
	switch {
	case replace:
		if err := d.deleteMapping(ctx, name, m); err != nil {
			return err
		}
		if err := d.createMapping(ctx, name, *want); err != nil {
			return err
		}
		status = statusUpdated
	case len(diff) > 0:
		if err := d.updateMapping(ctx, name, aws.ToString(m.UUID), *want, diff); err != nil {
			return err
		}
		status = statusUpdated
	case deleted:
		status = statusUpdated
	}
	d.p.report("mapping", name, status)
	return nil
}

// createMapping creates the mapping want for the function name. Lambda
// makes a second mapping when a create is sent twice (MiniStack does; AWS
// refuses a second one of the same source and function): a create the
// SDK sent more than once is followed by deleting every other mapping of
// that source (retried.go).
func (d *deployer) createMapping(ctx context.Context, name string, want mappingConfig) error {
	in := &lambda.CreateEventSourceMappingInput{
		FunctionName:   &name,
		EventSourceArn: &want.Source,
		BatchSize:      &want.BatchSize,
		Enabled:        aws.Bool(true),
	}
	for _, t := range want.ResponseTypes {
		in.FunctionResponseTypes = append(in.FunctionResponseTypes, ltypes.FunctionResponseType(t))
	}
	if want.MaximumConcurrency > 0 {
		in.ScalingConfig = &ltypes.ScalingConfig{MaximumConcurrency: &want.MaximumConcurrency}
	}
	if want.StartingPosition != "" {
		in.StartingPosition = ltypes.EventSourcePosition(want.StartingPosition)
		in.FilterCriteria = filterCriteria(want.FilterPatterns)
		in.BisectBatchOnFunctionError = &want.Bisect
		in.MaximumRetryAttempts = want.MaxRetryAttempts
		in.MaximumRecordAgeInSeconds = want.MaxRecordAgeSecs
		in.DestinationConfig = onFailure(want.OnFailure)
	}
	out, err := d.lambda.CreateEventSourceMapping(ctx, in)
	uuid := ""
	switch {
	case awserr.HasCode(err, "ResourceConflictException"):
		// AWS: our own create, retried after a lost response; the
		// mapping is the first one of this source.
	case err != nil:
		return fmt.Errorf("function %s: create event source mapping from %s: %w", name, want.Source, err)
	default:
		uuid = aws.ToString(out.UUID)
		if !sentMoreThanOnce(out.ResultMetadata) {
			return d.waitMapping(ctx, name, uuid)
		}
	}
	mappings, err := d.functionMappings(ctx, name)
	if err != nil {
		return err
	}
	for _, m := range mappings {
		if aws.ToString(m.EventSourceArn) != want.Source {
			continue
		}
		if uuid == "" {
			uuid = aws.ToString(m.UUID)
			continue
		}
		if aws.ToString(m.UUID) != uuid {
			if err := d.deleteMapping(ctx, name, m); err != nil {
				return err
			}
		}
	}
	if uuid == "" {
		return fmt.Errorf("function %s: event source mapping from %s: create answered a conflict, and there is none", name, want.Source)
	}
	return d.waitMapping(ctx, name, uuid)
}

// updateMapping brings the mapping uuid of the function name to want in
// place (diff names what differs, for the error).
func (d *deployer) updateMapping(ctx context.Context, name, uuid string, want mappingConfig, diff []string) error {
	if err := d.waitMapping(ctx, name, uuid); err != nil {
		return err
	}
	in := &lambda.UpdateEventSourceMappingInput{
		UUID:      &uuid,
		BatchSize: &want.BatchSize,
		// An empty list clears the response types.
		FunctionResponseTypes: []ltypes.FunctionResponseType{},
	}
	for _, t := range want.ResponseTypes {
		in.FunctionResponseTypes = append(in.FunctionResponseTypes, ltypes.FunctionResponseType(t))
	}
	if want.StartingPosition == "" {
		// An empty ScalingConfig removes the limit.
		in.ScalingConfig = &ltypes.ScalingConfig{}
		if want.MaximumConcurrency > 0 {
			in.ScalingConfig.MaximumConcurrency = &want.MaximumConcurrency
		}
	} else {
		in.FilterCriteria = filterCriteria(want.FilterPatterns)
		in.BisectBatchOnFunctionError = &want.Bisect
		in.MaximumRetryAttempts = want.MaxRetryAttempts
		in.MaximumRecordAgeInSeconds = want.MaxRecordAgeSecs
		in.DestinationConfig = onFailure(want.OnFailure)
	}
	if _, err := d.lambda.UpdateEventSourceMapping(ctx, in); err != nil {
		return fmt.Errorf("function %s: update event source mapping %s (%s): %w", name, uuid, strings.Join(diff, ", "), err)
	}
	return d.waitMapping(ctx, name, uuid)
}

func filterCriteria(patterns []string) *ltypes.FilterCriteria {
	fc := &ltypes.FilterCriteria{Filters: []ltypes.Filter{}}
	for _, p := range patterns {
		fc.Filters = append(fc.Filters, ltypes.Filter{Pattern: aws.String(p)})
	}
	return fc
}

func onFailure(destination string) *ltypes.DestinationConfig {
	dc := &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{}}
	if destination != "" {
		dc.OnFailure.Destination = &destination
	}
	return dc
}

// deleteMapping deletes a mapping of the function name.
func (d *deployer) deleteMapping(ctx context.Context, name string, m ltypes.EventSourceMappingConfiguration) error {
	uuid := aws.ToString(m.UUID)
	// In use: still being created or updated on AWS; wait that out.
	if err := d.waitMapping(ctx, name, uuid); err != nil {
		return err
	}
	// Not found: our own delete, retried after a lost response (retried.go).
	if _, err := d.lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: &uuid}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("function %s: delete event source mapping %s from %s: %w", name, uuid, aws.ToString(m.EventSourceArn), err)
	}
	// Until it is gone (AWS keeps it Deleting a while), a new mapping of
	// the same source would conflict with it.
	return d.waitMapping(ctx, name, uuid)
}

// waitMapping waits until the mapping uuid is Enabled or Disabled, or
// gone, as AWS wants before it takes another change; an emulator that
// reports no state counts as settled.
func (d *deployer) waitMapping(ctx context.Context, name, uuid string) error {
	return poll(ctx, "function "+name+": event source mapping "+uuid, mappingWait, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		m, err := d.lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: &uuid})
		if awserr.HasCode(err, "ResourceNotFoundException") {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		switch state := aws.ToString(m.State); state {
		case "", "Enabled", "Disabled":
			return true, nil
		case "Deleting", "Creating", "Enabling", "Disabling", "Updating":
			return false, nil
		default:
			return false, fmt.Errorf("state %s: %s", state, aws.ToString(m.StateTransitionReason))
		}
	})
}
