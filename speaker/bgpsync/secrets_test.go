package bgpsync

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

func compilePeers(t *testing.T, peers ...v1beta1.BGPPeer) *config.Config {
	t.Helper()
	cfg, err := config.Compile(config.Resources{BGPPeers: peers})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func bgpPeer(name, addr string, secret *v1beta1.SecretReference, inline string) v1beta1.BGPPeer {
	return v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPPeerSpec{
		MyASN: 64512, ASN: 64500, Address: addr, PasswordSecret: secret, Password: inline}}
}

func TestReferencesSecret(t *testing.T) {
	cfg := compilePeers(t,
		bgpPeer("a", "198.51.100.1", &v1beta1.SecretReference{Namespace: "ironlb-system", Name: "tor-a"}, ""),
		bgpPeer("b", "198.51.100.2", nil, "inline-pw"),
		bgpPeer("c", "198.51.100.3", &v1beta1.SecretReference{Namespace: "other", Name: "tor-c"}, ""),
	)
	for _, tc := range []struct {
		name     string
		cfg      *config.Config
		ns, secr string
		want     bool
	}{
		{"referenced", cfg, "ironlb-system", "tor-a", true},
		{"same name, other namespace", cfg, "other", "tor-a", false},
		{"referenced in another namespace", cfg, "other", "tor-c", true},
		{"members key", cfg, "ironlb-system", "ironlb-members", false},
		{"inline password references no Secret", cfg, "ironlb-system", "inline-pw", false},
		{"no configuration yet", nil, "ironlb-system", "tor-a", false},
		{"no peers", compilePeers(t), "ironlb-system", "tor-a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := referencesSecret(tc.cfg, tc.ns, tc.secr); got != tc.want {
				t.Errorf("referencesSecret(%s/%s) = %v, want %v", tc.ns, tc.secr, got, tc.want)
			}
		})
	}
}

func TestPasswordChangedPassesOnlyPasswordUpdates(t *testing.T) {
	sec := func(pw string, mut func(*corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ironlb-system", Name: "tor"},
			Type: corev1.SecretTypeBasicAuth, Data: map[string][]byte{"password": []byte(pw), "username": []byte("u")}}
		if mut != nil {
			mut(s)
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		old, new *corev1.Secret
		want     bool
	}{
		{"rotated", sec("one", nil), sec("two", nil), true},
		{"password key removed", sec("one", nil), sec("one", func(s *corev1.Secret) { delete(s.Data, "password") }), true},
		{"label added", sec("one", nil), sec("one", func(s *corev1.Secret) { s.Labels = map[string]string{"x": "y"} }), false},
		{"other key changed", sec("one", nil), sec("one", func(s *corev1.Secret) { s.Data["username"] = []byte("v") }), false},
		{"resync", sec("one", nil), sec("one", nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := passwordChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !passwordChanged.Create(event.CreateEvent{Object: sec("one", nil)}) || !passwordChanged.Delete(event.DeleteEvent{Object: sec("one", nil)}) {
		t.Error("creation and deletion of a Secret must pass: a referenced Secret appearing or vanishing changes the session")
	}
}

func TestKeepPasswordDropsEverythingElse(t *testing.T) {
	in := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "x", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Data:       map[string][]byte{"password": []byte("pw"), "key": []byte("members key")},
		StringData: map[string]string{"tls.key": "k"},
	}
	out, err := KeepPassword(in)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*corev1.Secret)
	if len(s.Data) != 1 || string(s.Data["password"]) != "pw" || s.StringData != nil || s.ManagedFields != nil {
		t.Errorf("kept %v, string data %v, managed fields %v", s.Data, s.StringData, s.ManagedFields)
	}
	out, _ = KeepPassword(&corev1.Secret{Data: map[string][]byte{"secret": []byte("members key")}})
	if s := out.(*corev1.Secret); s.Data != nil {
		t.Errorf("a Secret without a password kept %v", s.Data)
	}
}
