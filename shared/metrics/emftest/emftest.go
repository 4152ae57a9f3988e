// Package emftest checks CloudWatch embedded metric format (EMF) documents
// against the specification, for tests: the unit tests of shared/metrics
// and the end-to-end EMF check over the functions' log groups (tests/).
//
//	if err := emftest.Validate(line); err != nil { ... }
//
// The schema (testdata/emf.schema.json) is written from the specification,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html;
// Validate adds the rules a JSON schema cannot state: the target members
// every directive references exist at the root, dimensions as strings and
// metrics as numbers (or arrays of at most 100).
package emftest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed testdata/emf.schema.json
var schemaJSON []byte

// SchemaURI is the schema's $id.
const SchemaURI = "https://shop.example/schemas/cloudwatch-embedded-metric-format.json"

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURI, doc); err != nil {
		return nil, err
	}
	return c.Compile(SchemaURI)
})

// IsEMF reports whether line is meant as an EMF document: a JSON object
// with an _aws member (what CloudWatch Logs looks for).
func IsEMF(line []byte) bool {
	var probe struct {
		AWS json.RawMessage `json:"_aws"`
	}
	return json.Unmarshal(line, &probe) == nil && len(probe.AWS) > 0
}

// Metric is one metric value an EMF document publishes.
type Metric struct {
	Namespace  string
	Name       string
	Unit       string
	Dimensions map[string]string // the values of the directive's dimension keys
	Values     []float64
}

// Validate checks line against the specification and returns the metrics
// it publishes.
func Validate(line []byte) ([]Metric, error) {
	s, err := compiled()
	if err != nil {
		return nil, fmt.Errorf("emftest: the schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return nil, err
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, err
	}
	var meta struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	if err := json.Unmarshal(root["_aws"], &meta); err != nil {
		return nil, err
	}
	var out []Metric
	var errs []error
	for _, d := range meta.CloudWatchMetrics {
		dims := map[string]string{}
		for _, set := range d.Dimensions {
			for _, key := range set {
				var v string
				raw, ok := root[key]
				if !ok {
					errs = append(errs, fmt.Errorf("dimension %q: no such member at the root", key))
					continue
				}
				if err := json.Unmarshal(raw, &v); err != nil || v == "" || len(v) > 1024 {
					errs = append(errs, fmt.Errorf("dimension %q: %s is not a string of 1 to 1024 characters", key, raw))
					continue
				}
				dims[key] = v
			}
		}
		for _, m := range d.Metrics {
			raw, ok := root[m.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("metric %q: no such member at the root", m.Name))
				continue
			}
			var values []float64
			var one float64
			if err := json.Unmarshal(raw, &one); err == nil {
				values = []float64{one}
			} else if err := json.Unmarshal(raw, &values); err != nil || len(values) == 0 || len(values) > 100 {
				errs = append(errs, fmt.Errorf("metric %q: %s is neither a number nor an array of 1 to 100 numbers", m.Name, raw))
				continue
			}
			unit := m.Unit
			if unit == "" {
				unit = "None"
			}
			out = append(out, Metric{Namespace: d.Namespace, Name: m.Name, Unit: unit, Dimensions: dims, Values: values})
		}
	}
	return out, errors.Join(errs...)
}
