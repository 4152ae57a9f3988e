package awscalls

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// fakeAWS answers every request with the next status of statuses (then 200)
// and an empty JSON object, and keeps each request's target and body.
type fakeAWS struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	targets  []string
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.targets = append(f.targets, r.Header.Get("X-Amz-Target"))
	status := http.StatusOK
	if len(f.statuses) > 0 {
		status, f.statuses = f.statuses[0], f.statuses[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	if status >= 500 {
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}`))
		return
	}
	_, _ = w.Write([]byte(`{}`))
}

// sdkConfig points SDK clients at srv, through client, retrying at once.
func sdkConfig(srv *httptest.Server, client aws.HTTPClient) aws.Config {
	return aws.Config{
		Region:       "eu-central-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   client,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func parseLines(t *testing.T, out string) []Call {
	t.Helper()
	var calls []Call
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		c, ok := ParseLine(l)
		if !ok {
			t.Fatalf("not a recorded call: %q", l)
		}
		calls = append(calls, c)
	}
	return calls
}

// The server receives exactly the body it would without a recorder, on the
// first attempt and on the retry, and each attempt is one line.
func TestRecorderPassesTheSDKsRequestsIntactAndRecordsEachAttempt(t *testing.T) {
	put := &dynamodb.PutItemInput{
		TableName: aws.String("shop-users"),
		Item: map[string]types.AttributeValue{
			"pk":           &types.AttributeValueMemberS{Value: "LOGIN#a@b.co"},
			"sk":           &types.AttributeValueMemberS{Value: "FAILURES"},
			"passwordHash": &types.AttributeValueMemberS{Value: "secret-hash"},
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}

	recorded := &fakeAWS{statuses: []int{http.StatusInternalServerError}}
	srv := httptest.NewServer(recorded)
	defer srv.Close()
	var out bytes.Buffer
	rec := New(nil, &out)
	// sdkSent keeps each attempt's body as the SDK hands it over, before the
	// recorder sees it.
	var sdkSent [][]byte
	tap := doFunc(func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		sdkSent = append(sdkSent, b)
		r.Body = io.NopCloser(bytes.NewReader(b))
		return rec.Do(r)
	})
	if _, err := dynamodb.NewFromConfig(sdkConfig(srv, tap)).PutItem(t.Context(), put); err != nil {
		t.Fatal(err)
	}

	if len(recorded.bodies) != 2 || len(sdkSent) != 2 {
		t.Fatalf("the server got %d requests, the SDK sent %d; want a failed one and its retry", len(recorded.bodies), len(sdkSent))
	}
	for i := range sdkSent {
		if !bytes.Equal(recorded.bodies[i], sdkSent[i]) {
			t.Errorf("attempt %d: the server got\n%s\nthe SDK sent\n%s", i+1, recorded.bodies[i], sdkSent[i])
		}
	}
	calls := parseLines(t, out.String())
	if len(calls) != 2 {
		t.Fatalf("%d lines, want one per attempt:\n%s", len(calls), &out)
	}
	for i, c := range calls {
		want := Call{Service: "dynamodb", Operation: "PutItem", Region: "eu-central-1", Attempt: i + 1, Status: []int{500, 200}[i],
			Needs: []Need{{Action: "dynamodb:PutItem", Resource: "table/shop-users", Keys: []map[string]string{{"pk": "LOGIN#a@b.co", "sk": "FAILURES"}}}}}
		if !equalCall(c, want) {
			t.Errorf("line %d = %+v, want %+v", i+1, c, want)
		}
	}
	if strings.Contains(out.String(), "secret-hash") {
		t.Errorf("an item's data reached the log: %s", &out)
	}
}

func equalCall(a, b Call) bool {
	ja, jb := mustLine(a), mustLine(b)
	return ja == jb
}

func mustLine(c Call) string {
	var b bytes.Buffer
	(&Recorder{w: &b}).write(c)
	return b.String()
}

// Secrets Manager, SSM, EventBridge and SQS go through the same client,
// named by their signing scope; the SDK speaks the JSON protocol to each
// (SQS included, since its 2023 clients).
func TestRecorderNamesEachServicesAction(t *testing.T) {
	srv := httptest.NewServer(&fakeAWS{})
	defer srv.Close()
	var out bytes.Buffer
	cfg := sdkConfig(srv, New(nil, &out))
	if _, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("shop/signing/users")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ssm.NewFromConfig(cfg).GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/shop/jwks")}); err != nil {
		t.Fatal(err)
	}
	entry := ebtypes.PutEventsRequestEntry{EventBusName: aws.String("shop-events"), Source: aws.String("shop.orders"), DetailType: aws.String("t"), Detail: aws.String("{}")}
	if _, err := eventbridge.NewFromConfig(cfg).PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}}); err != nil {
		t.Fatal(err)
	}
	queue := srv.URL + "/000000000000/shop-notifications-notify"
	if _, err := sqs.NewFromConfig(cfg).ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &queue, ReceiptHandle: aws.String("r"), VisibilityTimeout: 30}); err != nil {
		t.Fatal(err)
	}
	calls := parseLines(t, out.String())
	want := []Need{
		{Action: "secretsmanager:GetSecretValue", Resource: "secret:shop/signing/users"},
		{Action: "ssm:GetParameter", Resource: "parameter/shop/jwks"},
		{Action: "events:PutEvents", Resource: "event-bus/shop-events"},
		{Action: "sqs:ChangeMessageVisibility", Resource: "shop-notifications-notify"},
	}
	if len(calls) != len(want) {
		t.Fatalf("%d calls, want %d:\n%s", len(calls), len(want), &out)
	}
	for i, c := range calls {
		if c.Problem != "" || len(c.Needs) != 1 || c.Needs[0].Action != want[i].Action || c.Needs[0].Resource != want[i].Resource {
			t.Errorf("call %d = %+v, want %+v", i, c, want[i])
		}
	}
}

// A request signed by hand and sent through the config's client (no SDK
// client involved) is recorded like any other.
func TestRecorderSeesRequestsMadeWithoutAnSDKClient(t *testing.T) {
	f := &fakeAWS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out bytes.Buffer
	rec := New(nil, &out)
	body := `{"Name":"/shop/jwks"}`
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := rec.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if string(f.bodies[0]) != body {
		t.Errorf("server got %q, want %q", f.bodies[0], body)
	}
	c := parseLines(t, out.String())[0]
	if c.Service != "ssm" || c.Region != "us-east-1" || c.Operation != "GetParameter" || c.Problem != "" ||
		len(c.Needs) != 1 || c.Needs[0].Resource != "parameter/shop/jwks" {
		t.Errorf("recorded %+v", c)
	}
}

func TestLocalOnlyCallsSayWhy(t *testing.T) {
	srv := httptest.NewServer(&fakeAWS{})
	defer srv.Close()
	var out bytes.Buffer
	db := dynamodb.NewFromConfig(sdkConfig(srv, New(nil, &out)))
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "FAULT#users-get"}, "sk": &types.AttributeValueMemberS{Value: "FAULT"}}
	if _, err := db.GetItem(LocalOnly(t.Context(), "faults"), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
		t.Fatal(err)
	}
	calls := parseLines(t, out.String())
	if calls[0].LocalOnly != "faults" || calls[1].LocalOnly != "" {
		t.Errorf("localOnly %q then %q, want faults then none", calls[0].LocalOnly, calls[1].LocalOnly)
	}
}

// roundTrip sends req through a recorder to a next client that reads the
// body the way a transport would, and returns what it read and the line.
func roundTrip(t *testing.T, req *http.Request) (sent []byte, c Call, readErr error) {
	t.Helper()
	var out bytes.Buffer
	next := doFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			sent, readErr = io.ReadAll(r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	if _, err := New(next, &out).Do(req); err != nil {
		t.Fatal(err)
	}
	c, ok := ParseLine(strings.TrimSpace(out.String()))
	if !ok {
		t.Fatalf("no call recorded: %q", &out)
	}
	return sent, c, readErr
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func newRequest(target, service string, body io.Reader, length int64) *http.Request {
	req := httptest.NewRequest("POST", "http://127.0.0.1/", body)
	req.ContentLength = length
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"+service+"/aws4_request, SignedHeaders=host, Signature=00")
	return req
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRecorderLeavesWhatItCannotReadAlone(t *testing.T) {
	big := bytes.Repeat([]byte("x"), maxInspect+1)
	tests := []struct {
		name    string
		req     *http.Request
		want    []byte
		problem string
	}{
		{"not a JSON protocol: body never read", newRequest("", "s3", bytes.NewReader([]byte("<xml/>")), 6), []byte("<xml/>"), "X-Amz-Target"},
		{"unknown length: streamed through", newRequest("DynamoDB_20120810.GetItem", "dynamodb", io.MultiReader(strings.NewReader(`{"TableName":"t"}`)), -1), []byte(`{"TableName":"t"}`), "unknown length"},
		{"too large to inspect", newRequest("DynamoDB_20120810.PutItem", "dynamodb", bytes.NewReader(big), int64(len(big))), big, "not inspected"},
		{"shorter than its Content-Length", newRequest("DynamoDB_20120810.GetItem", "dynamodb", strings.NewReader(`{}`), 10), []byte(`{}`), "shorter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &closeRecorder{Reader: tt.req.Body}
			tt.req.Body = body
			sent, c, _ := roundTrip(t, tt.req)
			if !bytes.Equal(sent, tt.want) {
				t.Errorf("sent %d bytes, want the %d the caller gave", len(sent), len(tt.want))
			}
			if !strings.Contains(c.Problem, tt.problem) || len(c.Needs) != 0 {
				t.Errorf("recorded %+v, want a problem with %q and no needs", c, tt.problem)
			}
			if !body.closed {
				t.Error("the caller's body was never closed")
			}
		})
	}
}

// A body that fails mid-way fails the same way for the transport, after the
// same bytes.
func TestRecorderPassesABodysReadErrorOn(t *testing.T) {
	boom := errors.New("disk on fire")
	body := io.MultiReader(strings.NewReader(`{"Table`), errReader{boom})
	sent, c, readErr := roundTrip(t, newRequest("DynamoDB_20120810.GetItem", "dynamodb", body, 40))
	if string(sent) != `{"Table` || !errors.Is(readErr, boom) {
		t.Errorf("transport read %q, %v; want the same bytes and error as the caller's body", sent, readErr)
	}
	if c.Problem == "" {
		t.Errorf("recorded %+v without a problem", c)
	}
}

func TestParseLine(t *testing.T) {
	c := Call{Service: "ssm", Operation: "GetParameter", Status: 200, Needs: []Need{{Action: "ssm:GetParameter", Resource: "parameter/x"}}}
	got, ok := ParseLine(strings.TrimSpace(mustLine(c)))
	if !ok || !equalCall(got, c) {
		t.Errorf("ParseLine(line of %+v) = %+v, %v", c, got, ok)
	}
	for _, other := range []string{
		`{"level":"INFO","msg":"request","status":200}`,
		`START RequestId: 1 Version: $LATEST`,
		`{"msg":"awsCall mentioned in passing"}`,
		`{"awsCall":`,
		``,
	} {
		if _, ok := ParseLine(other); ok {
			t.Errorf("ParseLine(%q) found a call", other)
		}
	}
}

func TestCredentialScope(t *testing.T) {
	for _, tt := range []struct{ auth, service, region string }{
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0", "dynamodb", "us-east-1"},
		{"AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/secretsmanager/aws4_request, SignedHeaders=host", "secretsmanager", ""},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/monitoring/aws4_request, Signature=0", "cloudwatch", "eu-west-1"},
		{"", "", ""},
		{"Bearer token", "", ""},
	} {
		if s, r := credentialScope(tt.auth); s != tt.service || r != tt.region {
			t.Errorf("credentialScope(%q) = %q, %q; want %q, %q", tt.auth, s, r, tt.service, tt.region)
		}
	}
}

// FuzzRecorderNeverAltersTheRequest: whatever the target and the body, the
// recorder never panics, the transport reads exactly the caller's body, and
// the line it writes is one parseable call.
func FuzzRecorderNeverAltersTheRequest(f *testing.F) {
	for _, seed := range []struct{ service, target, body string }{
		{"dynamodb", "DynamoDB_20120810.BatchGetItem", `{"RequestItems":{"t":{"Keys":[{"pk":{"S":"A"}}]}}}`},
		{"dynamodb", "DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t","Item":{"pk":{"S":"A"}}}}]}`},
		{"dynamodb", "DynamoDB_20120810.Query", `{"TableName":"t","KeyConditionExpression":"#p = :v","ExpressionAttributeNames":{"#p":"pk"},"ExpressionAttributeValues":{":v":{"N":"1"}}}`},
		{"dynamodb", "DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"B":"AA=="}}}}]}}`},
		{"secretsmanager", "secretsmanager.GetSecretValue", `{"SecretId":"s"}`},
		{"ssm", "AmazonSSM.GetParameters", `{"Names":["/a"]}`},
		{"dynamodb", "DynamoDB_20120810.GetItem", `{"Key":{"pk":{"S":null}},"TableName":7}`},
		{"", "", "\x00\xff"},
	} {
		f.Add(seed.service, seed.target, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, service, target string, body []byte) {
		req := newRequest("", service, bytes.NewReader(body), int64(len(body)))
		req.Header["X-Amz-Target"] = []string{target} // as is: no canonicalisation, no validation
		sent, c, readErr := roundTrip(t, req)
		if readErr != nil || !bytes.Equal(sent, body) {
			t.Fatalf("transport read %q (%v), caller sent %q", sent, readErr, body)
		}
		if c.Problem == "" && len(c.Needs) == 0 && len(body) > 0 {
			t.Fatalf("a call with a body but neither needs nor a problem: %+v", c)
		}
	})
}

// A key holding an e-mail address (the users table's) is masked in the line,
// its prefix kept for dynamodb:LeadingKeys.
func TestRecorderMasksEmailsInKeys(t *testing.T) {
	srv := httptest.NewServer(&fakeAWS{})
	defer srv.Close()
	var out bytes.Buffer
	rec := New(nil, &out)
	body := `{"TableName":"shop-users","Key":{"pk":{"S":"EMAIL#ada@example.com"},"sk":{"S":"EMAIL"}}}`
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := rec.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(out.String(), "ada@example.com") {
		t.Fatalf("the line shows the address: %s", out.String())
	}
	c := parseLines(t, out.String())[0]
	if len(c.Needs) != 1 || len(c.Needs[0].Keys) != 1 || c.Needs[0].Keys[0]["pk"] != "EMAIL#a***@example.com" {
		t.Errorf("recorded %+v", c)
	}
}
