package main

import (
	"maps"
	"slices"
	"testing"
)

// A consumer's queue redrives to its dead-letter queue and admits its
// rule; the dead-letter queue has neither, and says so with empty values,
// which SetQueueAttributes takes as "remove".
func TestQueueAttributes(t *testing.T) {
	c := eventsModel(t, evFull).Function("evsub-got").Consumer
	q := queueAttributes(c.Queue, &c.DeadLetterQueue)
	if q[attrVisibilityTimeout] != "6" || q[attrMessageRetention] != "345600" || q[attrMaximumSize] != "262144" || q[attrSSE] != "true" {
		t.Errorf("queue attributes %v", q)
	}
	if !sameRedrive(q[attrRedrivePolicy], `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:shop-evsub-got-dlq","maxReceiveCount":5}`) {
		t.Errorf("redrive policy %s", q[attrRedrivePolicy])
	}
	if !samePolicy(q[attrPolicy], mustJSON(c.Queue.Policy)) {
		t.Errorf("policy %s", q[attrPolicy])
	}
	dlq := queueAttributes(c.DeadLetterQueue, nil)
	if dlq[attrRedrivePolicy] != "" || dlq[attrPolicy] != "" || dlq[attrMessageRetention] != "1209600" || dlq[attrVisibilityTimeout] != "30" {
		t.Errorf("dead-letter queue attributes %v", dlq)
	}
}

func TestSameRedrive(t *testing.T) {
	want := `{"deadLetterTargetArn":"arn:q-dlq","maxReceiveCount":5}`
	for have, same := range map[string]bool{
		`{"deadLetterTargetArn": "arn:q-dlq", "maxReceiveCount": 5}`:   true,
		`{"maxReceiveCount":"5","deadLetterTargetArn":"arn:q-dlq"}`:    true, // SQS has answered a string
		`{"deadLetterTargetArn":"arn:q-dlq","maxReceiveCount":50}`:     false,
		`{"deadLetterTargetArn":"arn:other-dlq","maxReceiveCount":5}`:  false,
		`{"deadLetterTargetArn":"arn:q-dlq","maxReceiveCount":"five"}`: false,
		``: false,
	} {
		if got := sameRedrive(have, want); got != same {
			t.Errorf("sameRedrive(%s) = %v, want %v", have, got, same)
		}
	}
	if !sameRedrive("", "") {
		t.Error("two queues without a redrive policy differ")
	}
}

// queueDiff sends only what differs, by meaning, with the model's values;
// what SQS adds on its own (counts, timestamps, its ARN) is not the
// model's business.
func TestQueueDiff(t *testing.T) {
	c := eventsModel(t, evFull).Function("evsub-got").Consumer
	want := queueAttributes(c.Queue, &c.DeadLetterQueue)
	have := maps.Clone(want)
	have[attrPolicy] = `{"Version": "2012-10-17", "Statement": ` + mustJSON(c.Queue.Policy.Statement) + `}` // reformatted, as MiniStack gives it back
	have[attrRedrivePolicy] = `{"deadLetterTargetArn": "` + c.DeadLetterQueue.ARN + `", "maxReceiveCount": 5}`
	have["ApproximateNumberOfMessages"] = "3"
	have[attrQueueARN] = c.Queue.ARN
	if diff := queueDiff(want, have); len(diff) > 0 {
		t.Fatalf("an equal queue differs in %v", diff)
	}
	have[attrVisibilityTimeout] = "30"
	delete(have, attrPolicy)
	diff := queueDiff(want, have)
	if got := slices.Sorted(maps.Keys(diff)); !slices.Equal(got, []string{attrPolicy, attrVisibilityTimeout}) || diff[attrVisibilityTimeout] != "6" {
		t.Errorf("diff %v, want the policy and the visibility timeout, with the model's values", diff)
	}
	dlq := queueAttributes(c.DeadLetterQueue, nil)
	haveDLQ := maps.Clone(dlq)
	haveDLQ[attrRedrivePolicy] = want[attrRedrivePolicy]
	delete(haveDLQ, attrPolicy)
	if diff := queueDiff(dlq, haveDLQ); !maps.Equal(diff, map[string]string{attrRedrivePolicy: ""}) {
		t.Errorf("diff %v, want the redrive policy removed", diff)
	}
}
