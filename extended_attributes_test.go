package bakehouse

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestExtendedAttributesDecode(t *testing.T) {
	var req BakeRequest
	body := `{"extended_attributes": {"s": " x ", "sf": "false", "s0": "0", "se": "", "t": true, "f": false,
		"n": null, "i": 2, "z": 0, "nz": -0, "neg": -7, "big": 12345678901234567890, "d": 1.5, "dz": 0.0, "e": 1e2}}`
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	want := ExtendedAttributes{"s": " x ", "sf": "false", "s0": "0", "se": "", "t": "true", "f": "",
		"n": "", "i": "2", "z": "", "nz": "", "neg": "-7", "big": "12345678901234567890", "d": "1.5", "dz": "", "e": "100.0"}
	if !maps.Equal(req.ExtendedAttributes, want) {
		t.Errorf("decoded %q\nwant    %q", req.ExtendedAttributes, want)
	}
	for _, body := range []string{`{}`, `{"extended_attributes": null}`} {
		var req BakeRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil || req.ExtendedAttributes != nil {
			t.Errorf("%s: %q, %v; want no attributes", body, req.ExtendedAttributes, err)
		}
	}
	// A decoded request stored and read back stays the same.
	b, _ := json.Marshal(req)
	var again BakeRequest
	if err := json.Unmarshal(b, &again); err != nil || !maps.Equal(again.ExtendedAttributes, want) {
		t.Errorf("round trip: %q, %v", again.ExtendedAttributes, err)
	}
}

func TestExtendedAttributesRefused(t *testing.T) {
	for body, field := range map[string]string{
		`{"extended_attributes": {"ok": 1, "o": {}}}`:    "extended_attributes.o",
		`{"extended_attributes": {"l": [1, 2]}}`:         "extended_attributes.l",
		`{"extended_attributes": {"inf": -1e999}}`:       "extended_attributes.inf",
		`{"extended_attributes": "a=b"}`:                 "extended_attributes",
		`{"extended_attributes": ["a"]}`:                 "extended_attributes",
		`{"extended_attributes": {"x": {"nested": []}}}`: "extended_attributes.x",
	} {
		var req BakeRequest
		err := json.Unmarshal([]byte(body), &req)
		var e *Error
		if !asError(err, &e) || e.Code != EINVALID || e.Field != field {
			t.Errorf("%s: err = %v, want EINVALID on %s", body, err, field)
		}
	}
}

// TestJavaDouble pins Double.toString's output (as printed by a JVM) for
// the two notations and their boundaries.
func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{
		1.5: "1.5", 1: "1.0", 100: "100.0", 2.5e6: "2500000.0", 9999999: "9999999.0", 1e7: "1.0E7",
		1.2345678e7: "1.2345678E7", 0.001: "0.001", 0.0012: "0.0012", 0.0001: "1.0E-4", 1.5e-5: "1.5E-5",
		123456.789: "123456.789", 0.1: "0.1", -2.5: "-2.5", -1e7: "-1.0E7", 1e21: "1.0E21",
		1.7976931348623157e308: "1.7976931348623157E308", 4.9e-324: "4.9E-324", 0.3: "0.3", 1e100: "1.0E100",
	} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, want)
		}
	}
}
