package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Contexts, outputs and triggers are map[string]any as Orca holds them, so
// the rules read them through these helpers, which follow Groovy's and
// Java's conversions where Orca relies on them.

// str returns v as a string when it is one, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// asMap returns v as a JSON object, or nil.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asList returns v as a JSON array, or nil. Lists of objects built in Go
// ([]map[string]any) are accepted too.
func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case []map[string]any:
		out := make([]any, len(l))
		for i, m := range l {
			out[i] = m
		}
		return out
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	return nil
}

// truthy is Groovy truth, which Orca's Groovy tasks use for `if (x)` and
// `x ?: y`: null, false, "", 0, an empty list or map are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// isTrue reports whether v is exactly the boolean true (Boolean.TRUE ==
// x, `x == true`): the string "true" is not.
func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// javaString prints v as Java's toString does for the values Jackson
// decodes: lists as [a, b], maps as {key=value, other=value}, null as
// null. Orca builds some error messages that way, and users compare them
// word for word. Go maps have no order, so keys print sorted (Orca's are
// in insertion order, which a Go map does not keep).
func javaString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = javaString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + javaString(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + x[k]
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if l := asList(v); l != nil {
		return javaString(l)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// javaSplit splits s on the literal sep as Java's String.split does for
// a one-character pattern: trailing empty strings are dropped, and ""
// gives [""].
func javaSplit(s, sep string) []string {
	if s == "" {
		return []string{""}
	}
	return trimTrailingEmpty(strings.Split(s, sep))
}

// javaSplitRe is javaSplit for a regular expression.
func javaSplitRe(s string, re *regexp.Regexp) []string {
	if s == "" {
		return []string{""}
	}
	return trimTrailingEmpty(re.Split(s, -1))
}

func trimTrailingEmpty(parts []string) []string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// copyMap returns a shallow copy of m (never nil), as Orca copies a stage
// context before adding to it.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// deepCopy copies JSON values so that a child's context shares nothing
// with its parent's.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// toInt converts a JSON number or numeric string to an int as Jackson
// does for an int field; ok is false when it cannot.
func toInt(v any) (n int, ok bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case float64:
		return int(x), true
	case int:
		return x, true
	case int64:
		return int(x), true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), true
		}
		f, err := x.Float64()
		return int(f), err == nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, true
		}
		i, err := strconv.Atoi(s)
		return i, err == nil
	}
	return 0, false
}

// asString converts a scalar to the String Jackson would bind it to (a
// number becomes its text); ok is false for objects and lists.
func asString(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64, int, int64, json.Number, bool:
		return javaString(x), true
	}
	if x, isNum := v.(json.Number); isNum {
		return x.String(), true
	}
	return "", false
}
