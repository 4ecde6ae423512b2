package bakery

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// sealArgv encrypts a Packer command line in clear with key (AES-GCM, a
// random nonce before the ciphertext), so that the bake's secret values
// can wait in the shared database for whichever node runs it without
// being readable there.
func sealArgv(key []byte, argv []string) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(argv)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

// openArgv decrypts what sealArgv made with the same key; any other key,
// or a changed ciphertext, is an error.
func openArgv(key, sealed []byte) ([]string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed command line is too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return nil, err
	}
	var argv []string
	if err := json.Unmarshal(plain, &argv); err != nil {
		return nil, err
	}
	return argv, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
