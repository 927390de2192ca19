package main

import (
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dispersy-go/dispersy/protocol"
)

// Key files hold an ed25519 private key as PKCS#8 in PEM ("PRIVATE KEY"),
// which openssl reads too (openssl pkey -in FILE -pubout). A member's id
// and a community's id are the SHA-1 of the 32-byte public key.

// writeKey creates a new key file at path with mode 0600 and returns the
// key. It refuses to replace an existing file unless force.
func writeKey(path string, force bool) (protocol.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("key file %s exists (use --force to replace it)", path)
		}
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return protocol.Ed25519{}.NewKey([32]byte(priv.Seed())), nil
}

// readKey loads the key file at path.
func readKey(path string) (protocol.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return parseKey(path, data)
}

// parseKey decodes a key file's contents.
func parseKey(path string, data []byte) (protocol.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key file %s: not a PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: a %T key, want ed25519", path, k)
	}
	return protocol.Ed25519{}.NewKey([32]byte(priv.Seed())), nil
}

// loadOrCreateKey reads the key at path, creating it if it does not
// exist; created reports which.
func loadOrCreateKey(path string) (k protocol.PrivateKey, created bool, err error) {
	k, err = readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = writeKey(path, false)
		return k, err == nil, err
	}
	return k, false, err
}

func idOf(k protocol.PrivateKey) string {
	id := protocol.IDOf(k.Public())
	return hex.EncodeToString(id[:])
}
