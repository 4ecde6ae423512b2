package packer

import (
	"slices"
	"testing"
)

func TestRedactArgv(t *testing.T) {
	argv := []string{"sudo", "packer", "build", "-color=false",
		"-var", "aws_secret_key=s3cr3t=with=equals",
		"-var", "aws_access_key=AKIA",
		"-var", "aws_region=us-east-1",
		"-var=aws_secret_key=other",
		"--var=aws_access_key=x",
		"-var", "not_aws_secret_key=visible",
		"-var-file=/vars.json",
		"/t/aws.json"}
	orig := slices.Clone(argv)
	masked := []string{"aws_secret_key", "aws_access_key"}
	got := RedactArgv(argv, masked)
	want := []string{"sudo", "packer", "build", "-color=false",
		"-var", "aws_secret_key=******",
		"-var", "aws_access_key=******",
		"-var", "aws_region=us-east-1",
		"-var=aws_secret_key=******",
		"--var=aws_access_key=******",
		"-var", "not_aws_secret_key=visible",
		"-var-file=/vars.json",
		"/t/aws.json"}
	if !slices.Equal(got, want) {
		t.Errorf("RedactArgv =\n %q\nwant\n %q", got, want)
	}
	if !slices.Equal(argv, orig) {
		t.Error("RedactArgv modified its input")
	}
	vals := MaskedValues(argv, masked)
	if wantVals := []string{"s3cr3t=with=equals", "AKIA", "other", "x"}; !slices.Equal(vals, wantVals) {
		t.Errorf("MaskedValues = %q, want %q", vals, wantVals)
	}
	if got := RedactArgv(argv, nil); !slices.Equal(got, argv) {
		t.Errorf("no masked params changed argv: %q", got)
	}
}

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
