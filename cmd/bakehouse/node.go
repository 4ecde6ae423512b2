package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// nodeIDFile holds, in the data dir, the random part of the node id that
// serve makes when none is configured, so that a node keeps its id across
// restarts (it then recognizes the bakes it ran before it died).
const nodeIDFile = "node-id"

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

// nodeID is this serve process's node id: BAKEHOUSE_NODE_ID or
// bakehouse.nodeId when set; else, on the embedded SQLite database (one
// node), the instance name; else the instance name (or hostname) with a
// random suffix kept in the data dir, so that nodes started with one
// config file on one host get distinct ids.
func nodeID(e *env, cfg serverConfig, instance, dataDir string, shared bool) (string, error) {
	id, field := e.getenv("BAKEHOUSE_NODE_ID"), "BAKEHOUSE_NODE_ID"
	if id == "" {
		id, field = cfg.NodeID, "bakehouse.nodeId"
	}
	if id != "" {
		if !nodeIDPattern.MatchString(id) {
			return "", fmt.Errorf("%s %q is not a node id: use letters, digits and . _ : - (at most 100), such as bake-1", field, id)
		}
		return id, nil
	}
	if !shared {
		return instance, nil
	}
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	suffix := strings.TrimSpace(string(b))
	if os.IsNotExist(err) || suffix == "" {
		r := make([]byte, 3)
		rand.Read(r)
		suffix = hex.EncodeToString(r)
		if err := os.WriteFile(path, []byte(suffix+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("node id: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return instance + "-" + suffix, nil
}

// secretsKey reads the key that seals bakes' secret values in the
// database: BAKEHOUSE_SECRETS_KEY, else bakehouse.secretsKey, 32 random
// bytes in base64 (16 or 24 also do). nil when neither is set.
func secretsKey(e *env, cfg serverConfig) ([]byte, error) {
	v, field := e.getenv("BAKEHOUSE_SECRETS_KEY"), "BAKEHOUSE_SECRETS_KEY"
	if v == "" {
		v, field = cfg.SecretsKey, "bakehouse.secretsKey"
	}
	if v == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
		// The value is a secret: not quoted.
		return nil, fmt.Errorf("%s is not 32 random bytes in base64: make one with openssl rand -base64 32, and set the same on every node", field)
	}
	return key, nil
}
