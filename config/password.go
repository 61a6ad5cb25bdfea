package config

import (
	"fmt"
	"log/slog"
)

// SecretRef names a Secret holding a BGP password under the "password" key.
type SecretRef struct{ Namespace, Name string }

// Password is where a BGP session's TCP-MD5 password comes from: nowhere,
// inline in the BGPPeer, or a Secret. The inline value is kept in an
// unexported field and every formatting path (fmt verbs including %#v and
// %d, slog, encoding/json) prints it redacted, so it cannot leak into logs,
// events or error messages by accident.
type Password struct {
	inline string
	secret *SecretRef
}

// IsSet reports whether the session uses a password.
func (p Password) IsSet() bool { return p.inline != "" || p.secret != nil }

// Inline returns the inline password, if that is the source.
func (p Password) Inline() (string, bool) { return p.inline, p.inline != "" }

// Secret returns the Secret reference, if that is the source.
func (p Password) Secret() (SecretRef, bool) {
	if p.secret == nil {
		return SecretRef{}, false
	}
	return *p.secret, true
}

// String describes the source without the password.
func (p Password) String() string {
	switch {
	case p.inline != "":
		return "inline password (redacted)"
	case p.secret != nil:
		return fmt.Sprintf("password from Secret %s/%s", p.secret.Namespace, p.secret.Name)
	}
	return "no password"
}

// Format makes every fmt verb print String(), so %d or %#v cannot reach
// the field.
func (p Password) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue keeps slog from walking the struct.
func (p Password) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalText keeps encoding/json and friends from seeing the value.
func (p Password) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
