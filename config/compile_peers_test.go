package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

const kpeer = KindBGPPeer

func peers(ps ...v1beta1.BGPPeer) Resources {
	return Resources{BGPPeers: ps, BFDProfiles: []v1beta1.BFDProfile{bfd("fast")}}
}

// p1 is a valid eBGP peer that the rule cases change.
func p1(f func(*v1beta1.BGPPeerSpec)) v1beta1.BGPPeer {
	return with(peer("p", "192.0.2.1", 64500, 64501), func(p *v1beta1.BGPPeer) { f(&p.Spec) })
}

func TestCompilePeerValid(t *testing.T) {
	min := peer("min", "192.0.2.1", 64500, 64501)
	full := with(peer("full", "2001:db8::1", 64500, 0), func(p *v1beta1.BGPPeer) {
		s := &p.Spec
		s.DynamicASN = v1beta1.DynamicASNInternal
		s.Port = 1179
		s.SourceAddress = "2001:db8::2"
		s.RouterID = "192.0.2.9"
		s.HoldTime = dur("30s")
		s.KeepaliveTime = dur("10s")
		s.ConnectTime = dur("5s")
		s.PasswordSecret = &v1beta1.SecretReference{Namespace: "ironlb-system", Name: "bgp-auth"}
		s.BFDProfile = "fast"
		s.EnableGracefulRestart = true
		s.NodeSelectors = []metav1.LabelSelector{sel("rack", "r1")}
	})
	kaOnly := with(peer("ka-only", "192.0.2.3", 64500, 64501), func(p *v1beta1.BGPPeer) { p.Spec.KeepaliveTime = dur("40s") })
	noKA := with(peer("no-keepalive", "192.0.2.4", 64500, 64501), func(p *v1beta1.BGPPeer) { p.Spec.HoldTime = dur("0s") })
	mh := with(peer("multihop", "192.0.2.5", 64500, 64501), func(p *v1beta1.BGPPeer) {
		p.Spec.EBGPMultiHop = true
		p.Spec.Password = "s3cret"
	})
	cfg := checkErrs(t, peers(min, full, kaOnly, noKA, mh))

	get := func(name string) BGPPeer {
		p, ok := cfg.BGPPeer(name)
		if !ok {
			t.Fatalf("peer %q missing", name)
		}
		return p
	}
	m := get("min")
	if m.Port != 179 || m.HoldTime != 90*time.Second || m.KeepaliveTime != 30*time.Second || m.ConnectTime != 5*time.Second ||
		m.Address != netip.MustParseAddr("192.0.2.1") || m.SourceAddress.IsValid() || m.RouterID.IsValid() ||
		m.BFD != nil || m.Password.IsSet() || m.IsInternal() || !m.SelectsNode(nil) {
		t.Errorf("min = %+v", m)
	}
	f := get("full")
	if f.Port != 1179 || f.HoldTime != 30*time.Second || f.KeepaliveTime != 10*time.Second || f.ConnectTime != 5*time.Second ||
		f.SourceAddress != netip.MustParseAddr("2001:db8::2") || f.RouterID != netip.MustParseAddr("192.0.2.9") ||
		!f.IsInternal() || !f.EnableGracefulRestart || f.SelectsNode(nil) || !f.SelectsNode(map[string]string{"rack": "r1"}) {
		t.Errorf("full = %+v", f)
	}
	if ref, ok := f.Password.Secret(); !ok || ref != (SecretRef{Namespace: "ironlb-system", Name: "bgp-auth"}) {
		t.Errorf("password secret = %v, %v", ref, ok)
	}
	if _, ok := f.Password.Inline(); ok {
		t.Error("secret password reported as inline")
	}
	want := BFDProfile{Name: "fast", ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 3}
	if f.BFD == nil || *f.BFD != want {
		t.Errorf("bfd = %+v, want %+v", f.BFD, want)
	}
	if k := get("ka-only"); k.HoldTime != 120*time.Second || k.KeepaliveTime != 40*time.Second {
		t.Errorf("ka-only timers = %v/%v, want 2m0s/40s", k.HoldTime, k.KeepaliveTime)
	}
	if n := get("no-keepalive"); n.HoldTime != 0 || n.KeepaliveTime != 0 {
		t.Errorf("no-keepalive timers = %v/%v", n.HoldTime, n.KeepaliveTime)
	}
	if pw, ok := get("multihop").Password.Inline(); !ok || pw != "s3cret" {
		t.Errorf("inline password = %q, %v", pw, ok)
	}
}

func TestCompilePeerRules(t *testing.T) {
	runRules(t, []ruleCase{
		{"myASN 0", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.MyASN = 0 })), []wantErr{{kpeer, "p", "spec.myASN", "must not be 0"}}},
		{"peerASN and dynamicASN", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.DynamicASN = v1beta1.DynamicASNExternal })),
			[]wantErr{{kpeer, "p", "spec.peerASN", "mutually exclusive"}}},
		{"neither peerASN nor dynamicASN", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ASN = 0 })),
			[]wantErr{{kpeer, "p", "spec.peerASN", "one of peerASN and dynamicASN is required"}}},
		{"dynamicASN value", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ASN, s.DynamicASN = 0, "sometimes" })),
			[]wantErr{{kpeer, "p", "spec.dynamicASN", `"sometimes" is not one of "internal", "external"`}}},
		{"ebgpMultiHop on iBGP", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ASN, s.EBGPMultiHop = 64500, true })),
			[]wantErr{{kpeer, "p", "spec.ebgpMultiHop", "iBGP"}}},
		{"ebgpMultiHop on dynamic internal", peers(p1(func(s *v1beta1.BGPPeerSpec) {
			s.ASN, s.DynamicASN, s.EBGPMultiHop = 0, v1beta1.DynamicASNInternal, true
		})), []wantErr{{kpeer, "p", "spec.ebgpMultiHop", "iBGP"}}},
		{"no address", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "" })), []wantErr{{kpeer, "p", "spec.peerAddress", "is required"}}},
		{"address not an IP", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "router.example" })),
			[]wantErr{{kpeer, "p", "spec.peerAddress", `"router.example" is not an IP address`}}},
		{"address with zone", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "fe80::1%eth0" })),
			[]wantErr{{kpeer, "p", "spec.peerAddress", "zone"}}},
		{"address v4-mapped", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "::ffff:192.0.2.1" })),
			[]wantErr{{kpeer, "p", "spec.peerAddress", "write 192.0.2.1"}}},
		{"address unspecified", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "0.0.0.0" })),
			[]wantErr{{kpeer, "p", "spec.peerAddress", "not a unicast address"}}},
		{"address CIDR", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Address = "192.0.2.1/32" })),
			[]wantErr{{kpeer, "p", "spec.peerAddress", "not an IP address"}}},
		{"source family", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.SourceAddress = "2001:db8::1" })),
			[]wantErr{{kpeer, "p", "spec.sourceAddress", "2001:db8::1 is not of the same address family as peerAddress 192.0.2.1"}}},
		{"source invalid", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.SourceAddress = "x" })),
			[]wantErr{{kpeer, "p", "spec.sourceAddress", "not an IP address"}}},
		{"routerID IPv6", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.RouterID = "2001:db8::1" })),
			[]wantErr{{kpeer, "p", "spec.routerID", "not an IPv4 address"}}},
		{"routerID garbage", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.RouterID = "1.2.3" })),
			[]wantErr{{kpeer, "p", "spec.routerID", "not an IPv4 address"}}},
		{"routerID zero", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.RouterID = "0.0.0.0" })),
			[]wantErr{{kpeer, "p", "spec.routerID", "not a valid BGP router ID"}}},
		{"port negative", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Port = -1 })), []wantErr{{kpeer, "p", "spec.peerPort", "out of range 1..65535"}}},
		{"port too big", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Port = 65536 })), []wantErr{{kpeer, "p", "spec.peerPort", "65536"}}},
		{"holdTime 0 is fine", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("0s") })), nil},
		{"holdTime 3s is fine", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("3s") })), nil},
		{"holdTime 2s", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("2s") })),
			[]wantErr{{kpeer, "p", "spec.holdTime", "2s must be 0 or at least 3s"}}},
		{"holdTime negative", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("-5s") })),
			[]wantErr{{kpeer, "p", "spec.holdTime", "negative"}}},
		{"holdTime fraction", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("3.5s") })),
			[]wantErr{{kpeer, "p", "spec.holdTime", "whole number of seconds"}}},
		{"holdTime too long", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("65536s") })),
			[]wantErr{{kpeer, "p", "spec.holdTime", "more than 65535s"}}},
		{"keepalive more than a third", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = dur("30s"), dur("11s") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "11s is more than a third of holdTime 30s"}}},
		{"keepalive exactly a third is fine", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = dur("30s"), dur("10s") })), nil},
		{"keepalive above holdTime", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = dur("9s"), dur("10s") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "more than a third"}}},
		{"keepalive with holdTime 0", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = dur("0s"), dur("10s") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "must be 0 when holdTime is 0"}}},
		{"keepalive 0 with holdTime", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = dur("0s") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "must be more than 0"}}},
		{"keepalive negative", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = dur("-1s") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "negative"}}},
		{"keepalive alone implies a bad holdTime", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = dur("500ms") })),
			[]wantErr{{kpeer, "p", "spec.keepaliveTime", "the implied holdTime (3 × keepaliveTime) 1.5s must be 0 or at least 3s"}}},
		{"connectTime 0", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = dur("0s") })),
			[]wantErr{{kpeer, "p", "spec.connectTime", "out of range 1s..65535s"}}},
		{"connectTime fraction", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = dur("1500ms") })),
			[]wantErr{{kpeer, "p", "spec.connectTime", "whole number of seconds"}}},
		{"connectTime too long", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = dur("18h21m") })),
			[]wantErr{{kpeer, "p", "spec.connectTime", "out of range"}}},
		{"unknown bfdProfile", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "slow" })),
			[]wantErr{{kpeer, "p", "spec.bfdProfile", `BFDProfile "slow" does not exist or is not in force`}}},
		{"password and secret", peers(p1(func(s *v1beta1.BGPPeerSpec) {
			s.Password = "hunter2"
			s.PasswordSecret = &v1beta1.SecretReference{Namespace: "ns", Name: "s"}
		})), []wantErr{{kpeer, "p", "spec.passwordSecret", "mutually exclusive"}}},
		{"password too long", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Password = strings.Repeat("p", 81) })),
			[]wantErr{{kpeer, "p", "spec.password", "81 characters long, at most 80"}}},
		{"password control characters", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.Password = "a\nb" })),
			[]wantErr{{kpeer, "p", "spec.password", "control characters"}}},
		{"secret without name", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.PasswordSecret = &v1beta1.SecretReference{Namespace: "ns"} })),
			[]wantErr{{kpeer, "p", "spec.passwordSecret.name", "is required"}}},
		{"secret bad names", peers(p1(func(s *v1beta1.BGPPeerSpec) {
			s.PasswordSecret = &v1beta1.SecretReference{Namespace: "a.b", Name: "Bad_Name"}
		})), []wantErr{
			{kpeer, "p", "spec.passwordSecret.name", "not a valid Secret name"},
			{kpeer, "p", "spec.passwordSecret.namespace", "not a valid namespace name"},
		}},
		{"secret without namespace", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.PasswordSecret = &v1beta1.SecretReference{Name: "s"} })),
			[]wantErr{{kpeer, "p", "spec.passwordSecret.namespace", "is required"}}},
		{"bad node selector", peers(p1(func(s *v1beta1.BGPPeerSpec) { s.NodeSelectors = []metav1.LabelSelector{badSelector} })),
			[]wantErr{{kpeer, "p", "spec.nodeSelectors[0]", "invalid label selector"}}},
		{"duplicate name", peers(peer("p", "192.0.2.1", 1, 2), peer("p", "192.0.2.2", 1, 2)),
			[]wantErr{{kpeer, "p", "metadata.name", "2 objects"}}},
	})
}

func TestPeerConflicts(t *testing.T) {
	at := func(name, addr string, port int32, sels ...metav1.LabelSelector) v1beta1.BGPPeer {
		return with(peer(name, addr, 64500, 64501), func(p *v1beta1.BGPPeer) {
			p.Spec.Port = port
			p.Spec.NodeSelectors = sels
		})
	}
	// conflict: b, sorted after a, is the invalid one.
	conflict := func(a, b string) []wantErr {
		return []wantErr{{kpeer, b, "spec.peerAddress", fmt.Sprintf("also used by BGPPeer %q", a)}}
	}
	r1, r2 := sel("rack", "r1"), sel("rack", "r2")
	runRules(t, []ruleCase{
		{"both select every node", peers(at("a", "192.0.2.1", 0), at("b", "192.0.2.1", 179)), conflict("a", "b")},
		{"one selects every node", peers(at("a", "192.0.2.1", 0, r1), at("b", "192.0.2.1", 0)), conflict("a", "b")},
		{"an empty selector selects every node", peers(at("a", "192.0.2.1", 0, r1), at("b", "192.0.2.1", 0, r2, metav1.LabelSelector{})), conflict("a", "b")},
		{"same selectors", peers(at("a", "192.0.2.1", 0, r1, r2), at("b", "192.0.2.1", 0, r2, r1)), conflict("a", "b")},
		{"different selectors", peers(at("a", "192.0.2.1", 0, r1), at("b", "192.0.2.1", 0, r2)), nil},
		{"different ports", peers(at("a", "192.0.2.1", 179), at("b", "192.0.2.1", 1179)), nil},
		{"different addresses", peers(at("a", "192.0.2.1", 0), at("b", "192.0.2.2", 0)), nil},
		{"three peers", peers(at("a", "2001:db8::1", 0), at("b", "2001:db8::1", 0, r1), at("c", "2001:db8::1", 0, r2)),
			[]wantErr{{kpeer, "b", "spec.peerAddress", `"a"`}, {kpeer, "c", "spec.peerAddress", `"a"`}}},
	})
}

// TestPasswordNeverPrinted checks every way a password could reach logs or
// errors.
func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "hunter2-very-secret"
	ok := with(peer("p", "192.0.2.1", 64500, 64501), func(p *v1beta1.BGPPeer) { p.Spec.Password = secret })
	cfg := checkErrs(t, peers(ok))
	p, _ := cfg.BGPPeer("p")
	if pw, _ := p.Password.Inline(); pw != secret {
		t.Fatalf("Inline() = %q", pw)
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T %v"} {
		outputs = append(outputs, fmt.Sprintf(verb, p), fmt.Sprintf(verb, p.Password), fmt.Sprintf(verb, &p))
	}
	j, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("peer", "peer", p, "password", p.Password)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("peer", "peer", p)
	outputs = append(outputs, logs.String())

	// Invalid configurations: the password must not appear in errors either.
	bad := with(ok, func(p *v1beta1.BGPPeer) {
		p.Spec.Password = secret + "\n" + strings.Repeat("x", 80)
		p.Spec.PasswordSecret = &v1beta1.SecretReference{Namespace: "ns", Name: "n"}
	})
	_, errs := Compile(peers(bad))
	if errs == nil {
		t.Fatal("invalid password accepted")
	}
	outputs = append(outputs, errs.Error(), fmt.Sprintf("%+v", errs))

	for _, o := range outputs {
		if strings.Contains(o, "hunter2") {
			t.Errorf("password leaked: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprint(p.Password), "redacted") {
		t.Errorf("String() = %q, want a redacted marker", p.Password)
	}
}
