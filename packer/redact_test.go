package packer

import (
	"testing"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{"", "hunter2", "hunter2-long", "a,b", "-----BEGIN KEY-----\nQUJDREVGR0g=\nxy\n-----END KEY-----"})
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"pw hunter2 and hunter2", "pw ****** and ******"},
		{"hunter2-long", "******"}, // the longer secret wins
		{"x=a,b", "x=******"},
		{"1,,ui,message,    null: a%!(PACKER_COMMA)b", "1,,ui,message,    null: ******"},
		{"    null: QUJDREVGR0g=", "    null: ******"},
		{"-----END KEY-----", "******"},
		{`1,,ui,say,-----BEGIN KEY-----\nQUJDREVGR0g=\nxy\n-----END KEY-----`, "1,,ui,say,******"},
		{"xy stays: too short to mask alone", "xy stays: too short to mask alone"},
	}
	for _, tt := range tests {
		if got := r.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilR *Redactor
	if nilR.Redact("x") != "x" || NewRedactor(nil).Redact("x") != "x" || NewRedactor([]string{""}).Redact("x") != "x" {
		t.Error("empty redactors must not change text")
	}
}
