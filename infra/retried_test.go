package infra

import "testing"

// The provider's DEBUG log as Terraform 1.11 writes it: one entry per
// timestamped line, fields on continuation lines, the SDK's attempt counter
// as a header field.
func TestRetriedRequestsCountsOnlyRepeatedAttemptsOfTheOperation(t *testing.T) {
	log := []byte(`2026-12-01T16:50:10.875Z [DEBUG] provider: setting endpoint: rpc.method=CreateIntegration
2026-12-01T16:50:10.876Z [DEBUG] provider: HTTP Request Sent: http.url=http://127.0.0.1:4620/v2/apis/x/integrations http.method=POST
  http.request.body=
  | {"integrationType":"AWS_PROXY"}
   http.request.header.amz_sdk_request="attempt=1; max=25" rpc.method=CreateIntegration rpc.service=ApiGatewayV2
2026-12-01T16:50:11.001Z [DEBUG] provider: HTTP Request Sent: rpc.method=CreateIntegration http.request.header.amz_sdk_request="attempt=2; max=25"
2026-12-01T16:50:11.002Z [DEBUG] provider: HTTP Request Sent: rpc.method=CreateIntegrationResponse http.request.header.amz_sdk_request="attempt=3; max=25"
2026-12-01T16:50:11.003Z [DEBUG] provider: HTTP Request Sent: rpc.method=CreateRoute http.request.header.amz_sdk_request="attempt=2; max=25"
2026-12-01T16:50:11.004Z [DEBUG] provider: HTTP Response Received: rpc.method=CreateIntegration http.request.header.amz_sdk_request="attempt=2; max=25"
2026-12-01T16:50:11.005Z [DEBUG] provider: HTTP Request Sent: {"amz_sdk_request":"attempt=4; max=25","rpc.method":"x"} rpc.method=CreateIntegration
`)
	if got := retriedRequests(log, "CreateIntegration"); got != 2 {
		t.Fatalf("retriedRequests = %d, want 2 (attempt 2 and attempt 4 of CreateIntegration)", got)
	}
	if got := retriedRequests(log, "CreateRoute"); got != 1 {
		t.Fatalf("retriedRequests(CreateRoute) = %d, want 1", got)
	}
	if got := retriedRequests(log, "DeleteIntegration"); got != 0 {
		t.Fatalf("retriedRequests(DeleteIntegration) = %d, want 0", got)
	}
}
