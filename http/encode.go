package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/bakehouse/bakehouse"
)

// maxPackage is the largest package upload accepted.
const maxPackage = 2 << 30

// maxBody is the largest request body accepted (package uploads aside).
const maxBody = 1 << 20

// encode writes v as JSON with status. '<', '>' and '&' stay as they are,
// as Jackson writes them, so messages such as "Bearer <token>" read the
// same raw as decoded.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	e.Encode(v)
}

// decodeRequest reads a BakeRequest body. Unknown fields are ignored
// because Orca sends extra ones; everything else wrong is a 400 that says
// what to fix.
func decodeRequest(r *http.Request) (bakehouse.BakeRequest, error) {
	var req bakehouse.BakeRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return req, bakehouse.Invalid("body", "Could not read the request body: %v.", err)
	}
	if len(body) > maxBody {
		return req, bakehouse.Invalid("body", "Request body is larger than 1 MiB: send a smaller bake request.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, bakehouse.Invalid("body", "Request body is empty: send a JSON bake request such as {\"package\": \"mypkg\", \"base_os\": \"bookworm\"}.")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		var be *bakehouse.Error
		if errors.As(err, &be) {
			return req, be // from a field's own decoder (extended_attributes)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return req, bakehouse.Invalid(te.Field, "Field '%s' has the wrong type (got a JSON %s, want %s).", te.Field, te.Value, jsonType(te.Type.Kind().String()))
		}
		return req, bakehouse.Invalid("body", "Request body is not valid JSON (%v): send a JSON object.", err)
	}
	return req, nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map":
		return "an object of strings"
	case "slice":
		return "a list"
	case "ptr":
		return "true or false"
	}
	return kind
}

// statusOf maps an error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case bakehouse.EINVALID:
		return http.StatusBadRequest
	case bakehouse.ENOTFOUND:
		return http.StatusNotFound
	case bakehouse.ECONFLICT:
		return http.StatusConflict
	case bakehouse.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case bakehouse.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// writeError writes kork's error body, which Orca parses:
// {timestamp, status, error, exception, message}, plus the field at fault.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := bakehouse.ErrorCode(err)
	status := statusOf(code)
	exception := "java.lang.IllegalArgumentException"
	switch status {
	case http.StatusNotFound:
		exception = "com.netflix.spinnaker.kork.web.exceptions.NotFoundException"
	case http.StatusInternalServerError:
		exception = "java.lang.RuntimeException"
	case http.StatusUnauthorized, http.StatusForbidden:
		exception = "org.springframework.security.access.AccessDeniedException"
	}
	body := map[string]any{
		"timestamp": nowMillis(),
		"status":    status,
		"error":     http.StatusText(status),
		"exception": exception,
		"message":   bakehouse.ErrorMessage(err),
	}
	var e *bakehouse.Error
	if errors.As(err, &e) && e.Field != "" {
		body["field"] = e.Field
	}
	encode(w, status, body)
}

func textResponse(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, format, args...)
}
