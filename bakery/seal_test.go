package bakery

import (
	"bytes"
	"slices"
	"testing"
)

func TestSealArgv(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	argv := []string{"packer", "build", "-var", "aws_secret_key=S3cr3tValue", "t.json"}
	sealed, err := sealArgv(key, argv)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("S3cr3tValue")) || bytes.Contains(sealed, []byte("packer")) {
		t.Fatalf("sealed command line shows it in clear: %q", sealed)
	}
	again, _ := sealArgv(key, argv)
	if bytes.Equal(sealed, again) {
		t.Fatalf("two seals of the same command line are equal: the nonce is not random")
	}
	got, err := openArgv(key, sealed)
	if err != nil || !slices.Equal(got, argv) {
		t.Fatalf("openArgv = %q, %v; want %q", got, err, argv)
	}
	if _, err := openArgv(bytes.Repeat([]byte{8}, 32), sealed); err == nil {
		t.Fatalf("another key opened the sealed command line")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := openArgv(key, sealed); err == nil {
		t.Fatalf("a changed ciphertext opened")
	}
}
