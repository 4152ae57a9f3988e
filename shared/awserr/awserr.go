// Package awserr tells AWS API errors apart by their error code, the one
// check every caller of an AWS API needs:
//
//	if awserr.HasCode(err, "ResourceNotFoundException") { ... }
//
// Matching the code string rather than the SDK's typed errors also catches
// emulators that send the right code in a shape the SDK does not map, and
// works for services whose typed errors a caller does not want to link.
package awserr

import (
	"errors"
	"slices"

	"github.com/aws/smithy-go"
)

// HasCode reports whether err is, or wraps, an AWS API error whose code is
// one of codes.
func HasCode(err error, codes ...string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && slices.Contains(codes, apiErr.ErrorCode())
}
