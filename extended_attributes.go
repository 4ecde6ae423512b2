package bakehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ExtendedAttributes are a bake request's extended_attributes: extra
// Packer variables, by name. Orca sends them as pipeline authors wrote
// them, so a value may be a JSON string, number, boolean or null. Rosco
// (a raw Map bound by Jackson) passes numbers and booleans to Packer in
// their Java string form and leaves out the values Groovy counts as false
// (false, 0, "", null). Decoding does the same once, so that the recipe,
// the key and the stored request all see one map of strings: a number or
// true becomes its Java string ("2", "1.5", "true"), and a Groovy-false
// value becomes "", which the command line leaves out while it still
// replaces an earlier variable of the same name, as Rosco's put does.
// Objects and arrays are refused: no Packer variable can hold them.
type ExtendedAttributes map[string]string

// UnmarshalJSON decodes an object of strings, numbers, booleans and
// nulls as ExtendedAttributes describes. An object or array value is an
// EINVALID error on the field extended_attributes.<key>.
func (a *ExtendedAttributes) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Invalid("extended_attributes", "Field 'extended_attributes' must be an object of strings, numbers or booleans: %v.", err)
	}
	out := make(ExtendedAttributes, len(raw))
	for k, v := range raw {
		s, err := attributeString(k, v)
		if err != nil {
			return err
		}
		out[k] = s
	}
	*a = out
	return nil
}

// attributeString is the Packer value of one attribute (see
// ExtendedAttributes); "" for the Groovy-false ones.
func attributeString(key string, v json.RawMessage) (string, error) {
	field := "extended_attributes." + key
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", Invalid(field, "Field '%s' has no value.", field)
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", Invalid(field, "Field '%s' is not a valid JSON string: %v.", field, err)
		}
		return s, nil
	case 't':
		return "true", nil
	case 'f', 'n':
		return "", nil // false, null: Groovy false
	case '{':
		return "", Invalid(field, "Field '%s' is an object: extended attributes are Packer variables, send a string, number or boolean.", field)
	case '[':
		return "", Invalid(field, "Field '%s' is a list: extended attributes are Packer variables, send a string (copy_to and share_with take a comma-separated one).", field)
	}
	s, err := javaNumber(string(v))
	if err != nil {
		return "", Invalid(field, "Field '%s': %v.", field, err)
	}
	return s, nil
}

// javaNumber renders a JSON number as Rosco passes it to Packer: Jackson
// reads a number without fraction or exponent as an Integer, Long or
// BigInteger (printed as its digits) and any other as a Double (printed by
// Double.toString); Groovy counts zero as false, so zero is "".
func javaNumber(text string) (string, error) {
	if !strings.ContainsAny(text, ".eE") {
		if strings.Trim(text, "-0") == "" {
			return "", nil
		}
		return text, nil // JSON allows no leading zeros: already Java's form
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("%s is not a number a double can hold", text)
	}
	if f == 0 {
		return "", nil
	}
	return javaDouble(f), nil
}

// javaDouble is Java's Double.toString (JDK 19 and later, whose digits
// are the shortest that read back as f) for a finite, non-zero f, in plain notation ("1.5", "100.0",
// "0.001") when 1e-3 <= |f| < 1e7, else as d.dddE±n ("1.0E7",
// "1.0E-4").
func javaDouble(f float64) string {
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// 'e' with precision -1 gives the shortest round-trip digits: d.ddde±XX.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	if (f < 1e-3 || f >= 1e7) && !strings.Contains(s, ".") {
		// Java's d.dE±n shows two digits, the closest two (which differs
		// from d.0 only for subnormals: 4.9E-324, not 5.0E-324).
		s = strconv.FormatFloat(f, 'e', 1, 64)
	}
	mant, exp, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	if f >= 1e-3 && f < 1e7 {
		var s string
		switch {
		case e < 0:
			s = "0." + strings.Repeat("0", -e-1) + digits
		case len(digits) > e+1:
			s = digits[:e+1] + "." + digits[e+1:]
		default:
			s = digits + strings.Repeat("0", e+1-len(digits)) + ".0"
		}
		return sign + s
	}
	frac := digits[1:]
	if frac == "" {
		frac = "0"
	}
	return sign + digits[:1] + "." + frac + "E" + strconv.Itoa(e)
}
