package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// UserError is a failure caused by the pipeline, its trigger or its
// stage (a package that matches no archived file, a bad expression, an
// unknown base OS): the runner shows Message as it is, word for word as
// Orca would. Type is the Java exception Orca raises for it
// (IllegalStateException...), kept for context.exception.exceptionType.
type UserError struct {
	Type    string
	Message string
}

func (e *UserError) Error() string { return e.Message }

func illegalState(format string, args ...any) *UserError {
	return &UserError{Type: "IllegalStateException", Message: fmt.Sprintf(format, args...)}
}

func illegalArgument(format string, args ...any) *UserError {
	return &UserError{Type: "IllegalArgumentException", Message: fmt.Sprintf(format, args...)}
}

// IsUserError reports whether err is (or wraps) a *UserError, whose text
// the runner may show as it is.
func IsUserError(err error) bool {
	var u *UserError
	return errors.As(err, &u)
}

// BakeryError is an HTTP error answer from the bakery as Orca's bakery
// client sees it: the status code and the body's "messages" or
// "message". The runner bakes through the bakery's HTTP API (the one
// status mapping is the server's), so this is the only error shape.
type BakeryError struct {
	Status   int
	Messages []string
	Message  string
}

func (e *BakeryError) Error() string {
	switch {
	case len(e.Messages) > 0:
		return fmt.Sprintf("bakery: %d %s", e.Status, e.Messages[0])
	case e.Message != "":
		return fmt.Sprintf("bakery: %d %s", e.Status, e.Message)
	}
	return fmt.Sprintf("bakery: %d %s", e.Status, statusText(e.Status))
}

// bakeryStatus returns the HTTP status err stands for and the messages
// it carries (0 when err is no bakery answer).
func bakeryStatus(err error) (int, []string) {
	var be *BakeryError
	if errors.As(err, &be) {
		msgs := be.Messages
		if len(msgs) == 0 && be.Message != "" {
			msgs = []string{be.Message}
		}
		return be.Status, msgs
	}
	return 0, nil
}

// TaskError is an error a task failed with, named by the task (Orca's
// "operation" in context.exception).
type TaskError struct {
	Task string
	Err  error
}

func (e *TaskError) Error() string { return e.Err.Error() }
func (e *TaskError) Unwrap() error { return e.Err }

func taskErr(task string, err error) error {
	if err == nil {
		return nil
	}
	return &TaskError{Task: task, Err: err}
}

// ExceptionContext is the value Orca stores as a failed stage's
// context.exception, the place users (and Deck) read a failure from:
// {details: {error, errors: [message]}, exceptionType, operation,
// shouldRetry: false, timestamp}. A bakery HTTP answer gets the shape of
// Orca's HTTP exception handler (details.kind HTTP and status).
func ExceptionContext(err error, now time.Time) map[string]any {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	details := map[string]any{"error": "Unexpected Task Failure"}
	exceptionType := "Exception"
	var u *UserError
	if errors.As(err, &u) {
		exceptionType = u.Type
		msg = u.Message
	} else if status, msgs := bakeryStatus(err); status != 0 {
		exceptionType = "SpinnakerHttpException"
		details["error"] = statusText(status)
		details["kind"] = "HTTP"
		details["status"] = status
		if len(msgs) > 0 {
			msg = msgs[0]
		}
	}
	errs := []any{}
	if msg != "" {
		errs = append(errs, msg)
	}
	details["errors"] = errs
	out := map[string]any{
		"details":       details,
		"exceptionType": exceptionType,
		"shouldRetry":   false,
		"timestamp":     now.UnixMilli(),
	}
	var te *TaskError
	if errors.As(err, &te) {
		out["operation"] = te.Task
	}
	return out
}

// statusText names the HTTP statuses a bakery answers with (net/http is
// an adapter's import, not a domain package's).
func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 409:
		return "Conflict"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return fmt.Sprintf("HTTP %d", status)
}
