package bakehouse

import (
	"slices"
	"testing"
)

func TestMaskArgv(t *testing.T) {
	argv := []string{"sudo", "packer", "build", "-color=false",
		"-var=aws_secret_key=S", "-var", "aws_access_key=K", // packer.additionalParameters, both forms
		"-var", "aws_secret_key=s3cr3t=with=equals",
		"--var=aws_access_key=x",
		"-var", "aws_region=us-east-1",
		"-var", "not_aws_secret_key=visible",
		"-var-file=/vars.json",
		"/t/aws.json"}
	orig := slices.Clone(argv)
	masked := []string{"aws_secret_key", "aws_access_key"}
	got := MaskArgv(argv, masked)
	want := []string{"sudo", "packer", "build", "-color=false",
		"-var=aws_secret_key=******", "-var", "aws_access_key=******",
		"-var", "aws_secret_key=******",
		"--var=aws_access_key=******",
		"-var", "aws_region=us-east-1",
		"-var", "not_aws_secret_key=visible",
		"-var-file=/vars.json",
		"/t/aws.json"}
	if !slices.Equal(got, want) {
		t.Errorf("MaskArgv =\n %q\nwant\n %q", got, want)
	}
	if !slices.Equal(argv, orig) {
		t.Error("MaskArgv modified its input")
	}
	if vals, want := SecretValues(argv, masked), []string{"S", "K", "s3cr3t=with=equals", "x"}; !slices.Equal(vals, want) {
		t.Errorf("SecretValues = %q, want %q", vals, want)
	}
	if got := MaskArgv(argv, nil); !slices.Equal(got, argv) {
		t.Errorf("no masked params changed argv: %q", got)
	}
}
