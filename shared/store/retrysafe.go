package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Conditional writes made safe to retry.
//
// The SDK retries a request whose response it did not get: a connection
// that dropped while the response was read, a timeout. DynamoDB may well
// have applied that request (MiniStack under load does so now and then; AWS
// can after a network failure), and the retry then meets the state its own
// first attempt left behind. A conditional write fails its condition against
// itself: a create reports "already exists", a versioned update "conflict",
// and a guarded decrement whose condition still holds is applied twice.
//
// Every conditional write therefore goes through this file:
//
//   - TransactWrite gives each call its own ClientRequestToken, which the SDK
//     resends with every retry of that call and DynamoDB uses to answer a
//     repeated transaction with the first one's success for 10 minutes. (The
//     SDK fills one in by itself when it is missing; setting it here keeps
//     that promise independent of client options and visible in the code.)
//   - ConditionalPut and ConditionalUpdate stamp the item with a write token,
//     random and new for each call (each logical write), in WriteTokenAttr;
//     an update moves the token of the write before into
//     PriorWriteTokenAttr (a put replaces the item, earlier tokens too). Their
//     condition is extended with "and the item carries neither token as
//     ours", and DynamoDB returns the item when the condition fails
//     (ReturnValuesOnConditionCheckFailure ALL_OLD). A failure whose item
//     carries our token was caused by our own earlier attempt: that is
//     success, and the item returned is what the write left (see below).
//   - ConditionalDelete: a delete is done once the item is gone, so a
//     condition that failed on an absent item is success.
//
// Timeline of the fault, and of the write that lands in between:
//
//	A: update, token tA      -> applied: version 2, writeToken tA
//	   the response is lost  -> the SDK sends the same request again
//	B: update, token tB      -> if it lands now: version 3, writeToken tB,
//	                            priorWriteToken tA
//	A: the retry             -> condition false: the item carries tA; DynamoDB
//	                            returns the item, A sees its token: success
//
// Without B the item returned is exactly what A's first attempt would have
// answered (ReturnValues ALL_NEW); with B in between it is the item as it is
// now, A's write and B's. Two writes landing between a lost response and its
// retry (milliseconds) push tA out of the item: the retry is then treated as
// a new write, a conflict for a versioned update, applied again for a
// condition it still meets. One remembered write is the trade between that
// window and an attribute per item that could grow without bound.

// The write token's attributes. Items written through ConditionalPut and
// ConditionalUpdate carry them; they mean nothing to the domain.
const (
	// WriteTokenAttr holds the token of the last write made through
	// ConditionalPut or ConditionalUpdate.
	WriteTokenAttr = "writeToken"
	// PriorWriteTokenAttr holds the token of the write before it (the
	// same token after an item's first update).
	PriorWriteTokenAttr = "priorWriteToken"
)

// The placeholders a stamped write adds to its expressions; a caller's
// expressions must not use them.
const (
	tokenName      = "#writeToken"
	priorTokenName = "#priorWriteToken"
	tokenValue     = ":writeToken"
	// notOurs is ANDed into a stamped write's condition: a write whose token
	// the item carries is never applied again.
	notOurs = "NOT (" + tokenName + " = " + tokenValue + " OR " + priorTokenName + " = " + tokenValue + ")"
	// stampSet records the token; the prior token is read from the item
	// before the update, as every operand of an update expression is.
	stampSet = priorTokenName + " = if_not_exists(" + tokenName + ", " + tokenValue + "), " + tokenName + " = " + tokenValue
)

// newToken returns 128 random bits in hex: 32 characters, within the 36 a
// ClientRequestToken may have.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// ConditionalPut is PutItem for a write with a ConditionExpression, safe to
// retry (see above): the item is stored with a fresh write token. A failed
// condition is returned as DynamoDB reported it, wrapped, so
// ConditionFailedItem gives the item that stood in the way, unless that
// item carries this write's token: then the write happened, and the result
// is nil. in is not modified; its ReturnValues must be empty or NONE.
func ConditionalPut(ctx context.Context, db DB, in *dynamodb.PutItemInput) error {
	if in.ReturnValues != "" && in.ReturnValues != types.ReturnValueNone {
		return fmt.Errorf("store: ConditionalPut on %s: ReturnValues %s is not supported", aws.ToString(in.TableName), in.ReturnValues)
	}
	token := newToken()
	put := *in
	put.Item = with(in.Item, WriteTokenAttr, S(token))
	var err error
	put.ExpressionAttributeNames, put.ExpressionAttributeValues, put.ConditionExpression, err = stamp(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression, token)
	if err != nil {
		return fmt.Errorf("store: ConditionalPut on %s: %w", aws.ToString(in.TableName), err)
	}
	put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = db.PutItem(ctx, &put)
	if old, failed := ConditionFailedItem(err); failed && carries(old, token) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

// ConditionalUpdate is UpdateItem for a write with a ConditionExpression,
// safe to retry (see above): the update also records a fresh write token.
// It returns the item after the write when in.ReturnValues is ALL_NEW (nil
// for empty or NONE; other modes are refused, since a recognised retry could
// not honour them). A failed condition is returned as DynamoDB reported it,
// wrapped, so ConditionFailedItem gives the item, unless that item carries
// this write's token: then the write happened, and that item is returned.
// in is not modified.
func ConditionalUpdate(ctx context.Context, db DB, in *dynamodb.UpdateItemInput) (Item, error) {
	table := aws.ToString(in.TableName)
	wantNew := in.ReturnValues == types.ReturnValueAllNew
	if !wantNew && in.ReturnValues != "" && in.ReturnValues != types.ReturnValueNone {
		return nil, fmt.Errorf("store: ConditionalUpdate on %s: ReturnValues %s is not supported", table, in.ReturnValues)
	}
	token := newToken()
	upd := *in
	var err error
	upd.ExpressionAttributeNames, upd.ExpressionAttributeValues, upd.ConditionExpression, err = stamp(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression, token)
	if err != nil {
		return nil, fmt.Errorf("store: ConditionalUpdate on %s: %w", table, err)
	}
	upd.UpdateExpression = aws.String(stampUpdate(aws.ToString(in.UpdateExpression)))
	upd.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	out, err := db.UpdateItem(ctx, &upd)
	if old, failed := ConditionFailedItem(err); failed && carries(old, token) {
		if wantNew {
			return old, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", table, err)
	}
	if wantNew {
		return out.Attributes, nil
	}
	return nil, nil
}

// ConditionalDelete is DeleteItem for a write with a ConditionExpression,
// safe to retry: a delete is done once the item is gone, so a condition
// that failed on an absent item (our own earlier attempt took it, or it
// never was) is success. A condition that failed on an item that is there
// is returned as DynamoDB reported it, wrapped (ConditionFailedItem gives
// the item). in is not modified; its ReturnValues must be empty or NONE.
func ConditionalDelete(ctx context.Context, db DB, in *dynamodb.DeleteItemInput) error {
	table := aws.ToString(in.TableName)
	if in.ReturnValues != "" && in.ReturnValues != types.ReturnValueNone {
		return fmt.Errorf("store: ConditionalDelete on %s: ReturnValues %s is not supported", table, in.ReturnValues)
	}
	del := *in
	del.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err := db.DeleteItem(ctx, &del)
	if old, failed := ConditionFailedItem(err); failed && len(old) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", table, err)
	}
	return nil
}

// TransactWrite is TransactWriteItems with a ClientRequestToken of its own
// when in has none, so that the SDK's retries of this call are recognised by
// DynamoDB as one transaction. The error is DynamoDB's, for MapTxError or
// TxConditionFailed. in is not modified.
func TransactWrite(ctx context.Context, db DB, in *dynamodb.TransactWriteItemsInput) error {
	tx := *in
	if tx.ClientRequestToken == nil {
		tx.ClientRequestToken = aws.String(newToken())
	}
	_, err := db.TransactWriteItems(ctx, &tx)
	return err
}

// carries reports whether item records the write made with token.
func carries(item Item, token string) bool {
	for _, attr := range []string{WriteTokenAttr, PriorWriteTokenAttr} {
		if v, ok := item[attr].(*types.AttributeValueMemberS); ok && v.Value == token {
			return true
		}
	}
	return false
}

// stamp returns a write's names and values with the write token's
// placeholders added (new maps: the caller's are left alone), and its
// condition with notOurs ANDed in.
func stamp(names map[string]string, values map[string]types.AttributeValue, cond *string, token string) (map[string]string, map[string]types.AttributeValue, *string, error) {
	for _, n := range []string{tokenName, priorTokenName} {
		if _, taken := names[n]; taken {
			return nil, nil, nil, fmt.Errorf("the expression attribute name %s is reserved for the write token", n)
		}
	}
	if _, taken := values[tokenValue]; taken {
		return nil, nil, nil, fmt.Errorf("the expression attribute value %s is reserved for the write token", tokenValue)
	}
	names = with(with(names, tokenName, WriteTokenAttr), priorTokenName, PriorWriteTokenAttr)
	values = with(values, tokenValue, S(token))
	if c := aws.ToString(cond); c != "" {
		return names, values, aws.String("(" + c + ") AND " + notOurs), nil
	}
	return names, values, aws.String(notOurs), nil
}

// stampUpdate adds stampSet to update's SET clause, or adds one. An update
// expression holds at most one clause of each kind, in any order.
func stampUpdate(update string) string {
	if end := setClauseEnd(update); end >= 0 {
		return update[:end] + stampSet + ", " + update[end:]
	}
	return "SET " + stampSet + " " + update
}

// setClauseEnd returns where the actions of update's SET clause start (past
// the keyword and the blanks after it), or -1 without one. SET is reserved
// in DynamoDB, so as a whole word it can only be the clause keyword
// (placeholders start with # or :, and paths never use bare reserved
// words). A scan, not a regexp: a package-level regexp would be compiled at
// the cold start of every function that imports this package.
func setClauseEnd(update string) int {
	for i := 0; i+3 < len(update); i++ {
		if (i == 0 || isBlank(update[i-1])) && strings.EqualFold(update[i:i+3], "SET") && isBlank(update[i+3]) {
			end := i + 4
			for end < len(update) && isBlank(update[end]) {
				end++
			}
			return end
		}
	}
	return -1
}

// isBlank reports the white space that separates an expression's words.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// with returns a copy of m with k set to v.
func with[V any](m map[string]V, k string, v V) map[string]V {
	out := make(map[string]V, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}
