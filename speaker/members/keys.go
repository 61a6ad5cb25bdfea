package members

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// keyring is the set of liveness keys in force: the first signs every
// packet, any of them verifies. Holding two during a rotation lets the
// speakers switch keys one by one without a moment in which two of them
// cannot understand each other (README, "Rotating the liveness key").
// A keyring is immutable; a rotation installs a new one.
type keyring struct {
	derived     [][]byte // packet keys, in order; [0] signs
	fingerprint string   // of the signing key, safe to publish
}

// newKeyring checks and derives the keys. Errors name the key by position,
// never by value.
func newKeyring(secrets [][]byte) (*keyring, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("no key: need at least one of %d bytes or more", MinSecret)
	}
	r := &keyring{}
	for i, s := range secrets {
		if len(s) < MinSecret {
			return nil, fmt.Errorf("key %d: %d bytes, need at least %d", i+1, len(s), MinSecret)
		}
		r.derived = append(r.derived, derive(s, "ironlb members v1"))
	}
	r.fingerprint = hex.EncodeToString(derive(secrets[0], "ironlb members fingerprint")[:4])
	return r, nil
}

// derive keeps the raw secret for nothing but key derivation, so a future
// format, or the published fingerprint, uses a key of its own.
func derive(secret []byte, label string) []byte {
	kdf := hmac.New(sha256.New, secret)
	kdf.Write([]byte(label))
	return kdf.Sum(nil)
}

// macs returns one HMAC per key, in the keyring's order.
func (r *keyring) macs() []hash.Hash {
	out := make([]hash.Hash, len(r.derived))
	for i, k := range r.derived {
		out[i] = hmac.New(sha256.New, k)
	}
	return out
}
