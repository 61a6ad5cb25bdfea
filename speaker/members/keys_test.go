package members

import (
	"errors"
	"strings"
	"testing"
)

func TestKeyringRejectsShortKeysAndNamesThemByPosition(t *testing.T) {
	long := []byte("a-key-of-more-than-16-bytes")
	for _, tc := range []struct {
		name    string
		secrets [][]byte
		want    string
	}{
		{"none", nil, "no key"},
		{"short second", [][]byte{long, []byte("short")}, "key 2: 5 bytes"},
		{"short first", [][]byte{[]byte("tiny"), long}, "key 1: 4 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newKeyring(tc.secrets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "short") || strings.Contains(err.Error(), "tiny") {
				t.Errorf("the error shows a key: %v", err)
			}
		})
	}
}

// TestRotationStepsKeepEveryPairTalking walks the three steps of a
// rotation with nodes at different steps (each step reaches the nodes one
// by one): any two nodes at most one step apart understand each other,
// and a node two steps apart does not (the old key is really gone).
func TestRotationStepsKeepEveryPairTalking(t *testing.T) {
	oldKey, newKey := []byte("old-key-0123456789abcdef"), []byte("new-key-0123456789abcdef")
	steps := [][][]byte{
		{oldKey},         // 0: before
		{oldKey, newKey}, // 1: accept the new key
		{newKey, oldKey}, // 2: sign with it
		{newKey},         // 3: drop the old one
	}
	for from := range steps {
		for to := range steps {
			pkt := testCodec(steps[from]...).encode(sampleMessage(), testTo, func() uint64 { return 1 })[0]
			_, err := testCodec(steps[to]...).decode(pkt, testTo)
			apart := max(from-to, to-from)
			switch {
			case apart <= 1 && err != nil:
				t.Errorf("step %d -> step %d: %v, want accepted", from, to, err)
			case apart >= 3 && !errors.Is(err, errAuth):
				// Steps 0 and 2 share the old key (accepted), 0 and 3 do not.
				t.Errorf("step %d -> step %d: %v, want rejected", from, to, err)
			}
		}
	}
	// The fingerprint follows the signing key only.
	a, _ := newKeyring(steps[1])
	b, _ := newKeyring(steps[2])
	c, _ := newKeyring(steps[3])
	if a.fingerprint == b.fingerprint || b.fingerprint != c.fingerprint {
		t.Errorf("fingerprints %s %s %s: want a change at step 2 only", a.fingerprint, b.fingerprint, c.fingerprint)
	}
}

func TestCodecFollowsARotation(t *testing.T) {
	oldKey, newKey := []byte("old-key-0123456789abcdef"), []byte("new-key-0123456789abcdef")
	tx, rx := testCodec(oldKey), testCodec(oldKey)
	newOnly, _ := newKeyring([][]byte{newKey})
	tx.use(newOnly)
	pkt := tx.encode(sampleMessage(), testTo, func() uint64 { return 1 })[0]
	if _, err := rx.decode(pkt, testTo); !errors.Is(err, errAuth) {
		t.Fatalf("old-key receiver accepted a new-key packet: %v", err)
	}
	rx.use(newOnly)
	if _, err := rx.decode(pkt, testTo); err != nil {
		t.Fatalf("after use(new keys): %v", err)
	}
}
