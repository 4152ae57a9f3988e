package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
)

// Step Functions delivers at least once, and a retried task runs its step
// again: every step, invoked twice with the same input, answers the same and
// changes the state once.

// invokeStep invokes a deployed step as Step Functions does (its payload is
// the step's input) and returns the answer, or the error type it failed with.
func invokeStep(t *testing.T, function string, in any) (out json.RawMessage, errorType string) {
	t.Helper()
	testenv.RequireEmulator(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	recordJSON(payload)
	resp, err := lambda.NewFromConfig(cfg).Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(naming.Function(prefix(), function)),
		Payload:      payload,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.FunctionError != nil {
		var e struct {
			ErrorType string `json:"errorType"`
		}
		_ = json.Unmarshal(resp.Payload, &e)
		return nil, e.ErrorType
	}
	return resp.Payload, ""
}

// twice invokes a step twice with in and wants the same successful answer,
// which it returns.
func twice(t *testing.T, function string, in any) json.RawMessage {
	t.Helper()
	first, errType := invokeStep(t, function, in)
	if errType != "" {
		t.Fatalf("%s(%v) failed: %s", function, in, errType)
	}
	second, errType := invokeStep(t, function, in)
	if errType != "" || !bytes.Equal(first, second) {
		t.Fatalf("%s(%v) answered %s, then %s %s", function, in, first, second, errType)
	}
	return first
}

func stepOrderID(t *testing.T) string { return fmt.Sprintf("e2e-step-%d", time.Now().UnixNano()) }

func TestInventoryStepsTwice(t *testing.T) {
	t.Parallel()
	p := newProduct(t, 5)
	id := stepOrderID(t)
	reserve := map[string]any{"orderId": id, "items": []any{line(p.ID, 2)}}
	twice(t, "inventory-reserve", reserve)
	wantStock(t, p.ID, stock{Available: 3, Reserved: 2})
	twice(t, "inventory-commit", map[string]any{"orderId": id})
	wantStock(t, p.ID, stock{Available: 3, Sold: 2})
	twice(t, "inventory-restock", map[string]any{"orderId": id})
	wantStock(t, p.ID, stock{Available: 5})

	// A release that finds no reservation leaves a tombstone: the reserve it
	// overtook can no longer take stock.
	late := stepOrderID(t)
	twice(t, "inventory-release", map[string]any{"orderId": late})
	if _, errType := invokeStep(t, "inventory-reserve", map[string]any{"orderId": late, "items": []any{line(p.ID, 1)}}); errType != "ReservationReleased" {
		t.Errorf("reserve after its release: error %q, want ReservationReleased", errType)
	}
	// Out of stock is an answer, the same every time, and takes nothing.
	short := map[string]any{"orderId": stepOrderID(t), "items": []any{line(p.ID, 6)}}
	for range 2 {
		if _, errType := invokeStep(t, "inventory-reserve", short); errType != "InsufficientStock" {
			t.Fatalf("reserve of 6 out of 5: error %q, want InsufficientStock", errType)
		}
	}
	wantStock(t, p.ID, stock{Available: 5})
}

func TestPaymentStepsTwice(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	id := stepOrderID(t)
	charge := map[string]any{"orderId": id, "userId": "e2e-user", "amount": map[string]any{"amount": 1234, "currency": "EUR"}, "paymentToken": "tok_visa"}
	twice(t, "payments-charge", charge)
	if l := providerLedger(t, id); l.Charged != 1 || l.Amount != 1234 {
		t.Fatalf("provider ledger %+v after two charges, want one of 1234", l)
	}
	out := twice(t, "payments-refund", map[string]any{"orderId": id})
	if l := providerLedger(t, id); l.Refunded != 1 {
		t.Fatalf("provider ledger %+v after two refunds (%s), want one", l, out)
	}
	// A charge after its refund must not charge again.
	if _, errType := invokeStep(t, "payments-charge", charge); errType != "PaymentCancelled" {
		t.Errorf("charge after refund: error %q, want PaymentCancelled", errType)
	}
	// A declined charge is declined again, and charges nothing.
	declined := map[string]any{"orderId": stepOrderID(t), "userId": "e2e-user", "amount": map[string]any{"amount": 100, "currency": "EUR"}, "paymentToken": "tok_chargeDeclined"}
	for range 2 {
		if _, errType := invokeStep(t, "payments-charge", declined); errType != "PaymentDeclined" {
			t.Fatalf("declined charge: error %q, want PaymentDeclined", errType)
		}
	}
}

func TestOrderStepsTwice(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 2)
	confirmed := awaitEnd(t, s, mustPlace(t, s, "tok_visa", line(p.ID, 1)).ID, "CONFIRMED", "")
	twice(t, "orders-mark-confirmed", map[string]any{"orderId": confirmed.ID})
	if again := getOrder(t, s, confirmed.ID); again.Version != confirmed.Version || again.Status != "CONFIRMED" {
		t.Errorf("confirming a confirmed order changed it: %+v, was %+v", again, confirmed)
	}

	cancelled := awaitEnd(t, s, mustPlace(t, s, "tok_visa", line(p.ID, 5)).ID, "CANCELLED", "OUT_OF_STOCK")
	twice(t, "orders-mark-cancelled", map[string]any{"orderId": cancelled.ID, "reason": "INTERNAL"})
	if again := getOrder(t, s, cancelled.ID); again.Version != cancelled.Version || again.CancelReason != "OUT_OF_STOCK" {
		t.Errorf("cancelling a cancelled order changed it: %+v, was %+v", again, cancelled)
	}
	if _, errType := invokeStep(t, "orders-mark-confirmed", map[string]any{"orderId": cancelled.ID}); errType != "OrderCancelled" {
		t.Errorf("confirming a cancelled order: error %q, want OrderCancelled", errType)
	}
	expect(t, call(t, "GET", "/v1/orders/"+cancelled.ID, nil, bearer(s.Token)...), http.StatusOK)
}
