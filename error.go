package bakehouse

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in http/error.go.
const (
	EINVALID  = "invalid"  // bad input: 400
	ENOTFOUND = "notfound" // unknown bake or option: 404
	ECONFLICT = "conflict" // state does not allow the operation: 409
	// EUNAUTHORIZED is a mutating request without the API token: 401.
	EUNAUTHORIZED = "unauthorized"
	// EFORBIDDEN is a mutating request from outside the trusted networks
	// when no API token is set, so none could be sent: 403.
	EFORBIDDEN = "forbidden"
	EINTERNAL  = "internal" // anything else: 500
)

// Error is Bakehouse's one error type. Field names the request field at
// fault (snake_case, as on the wire) so that clients can point at it.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else
// EINTERNAL; nil gives "".
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic text for internal errors so that internals do not leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
