package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
)

func TestSamePolicy(t *testing.T) {
	doc := mustJSON(deployment.Policy{Version: "2012-10-17", Statement: []deployment.Statement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": "lambda.amazonaws.com"},
		Action:    []string{"sts:AssumeRole"},
	}}})
	reordered := `{"Statement":[{"Action":["sts:AssumeRole"],"Principal":{"Service":"lambda.amazonaws.com"},"Effect":"Allow"}],"Version":"2012-10-17"}`
	tests := []struct {
		name string
		have string
		want bool
	}{
		{"same bytes", doc, true},
		{"keys reordered, reformatted", reordered, true},
		{"URL-encoded as IAM returns it", url.QueryEscape(doc), true},
		{"different action", strings.Replace(doc, "sts:AssumeRole", "sts:TagSession", 1), false},
		{"not JSON", "nonsense", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := samePolicy(tt.have, doc); got != tt.want {
				t.Errorf("samePolicy = %v, want %v", got, tt.want)
			}
		})
	}
}

// A policy with a condition, as IAM hands it back, compares equal to the
// model's document: otherwise every run would rewrite it.
func TestSamePolicyWithACondition(t *testing.T) {
	doc := mustJSON(deployment.Policy{Version: "2012-10-17", Statement: []deployment.Statement{{
		Sid:       "SharedBreakers",
		Effect:    "Allow",
		Action:    deployment.BreakerActions,
		Resource:  []string{"arn:aws:dynamodb:us-east-1:000000000000:table/shop-platform"},
		Condition: map[string]map[string][]string{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {deployment.BreakerKeyPattern}}},
	}}})
	if !samePolicy(url.QueryEscape(doc), doc) {
		t.Error("a policy with a condition does not compare equal to itself as IAM returns it")
	}
}
