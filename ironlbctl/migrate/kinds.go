package migrate

import (
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/iprange"
)

// converters turn one MetalLB object ("version/Kind") into IronLB's.
var converters = map[string]func([]byte) (runtime.Object, []Note, error){
	"v1beta1/IPAddressPool":    convertPool,
	"v1beta1/L2Advertisement":  convertL2,
	"v1beta1/BGPAdvertisement": convertBGPAdv,
	"v1beta1/BFDProfile":       convertBFD,
	"v1beta1/Community":        convertCommunity,
	"v1beta1/BGPPeer":          convertPeer,
	"v1beta2/BGPPeer":          convertPeer,
}

// noEquivalent are the metallb.io kinds that give no IronLB object, and why.
var noEquivalent = map[string]string{
	"ServiceL2Status":    "status written by MetalLB's speakers; IronLB's speakers write their own ServiceL2Status (kubectl get l2status -A)",
	"ServiceBGPStatus":   "status written by MetalLB's speakers; IronLB's speakers write BGPSessionStatus per session (kubectl get bgpsession)",
	"BGPSessionState":    "status written by MetalLB's speakers; IronLB's speakers write BGPSessionStatus per session (kubectl get bgpsession)",
	"ConfigurationState": "status written by MetalLB; IronLB reports each object's validity in its own status (Valid condition)",
	"AddressPool":        "MetalLB's AddressPool was removed in MetalLB 0.14: convert it to an IPAddressPool and an L2Advertisement or BGPAdvertisement first",
}

const (
	whyPreferredNodes = "no equivalent: IronLB elects the announcing node by rendezvous hashing over the eligible nodes; give nodes a larger share with the Node annotation ironlb.io/layer2-weight, or restrict them with nodeSelectors"
)

func convertPool(raw []byte) (runtime.Object, []Note, error) {
	var in mlbPool
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.IPAddressPool{TypeMeta: typeMeta(config.KindIPAddressPool), ObjectMeta: meta(in.ObjectMeta)}
	hasV6 := false
	for i, a := range in.Spec.Addresses {
		conv, note := address(a)
		if note != "" {
			notes = append(notes, Note{Field: fmt.Sprintf("spec.addresses[%d]", i), Message: note})
		}
		hasV6 = hasV6 || strings.Contains(conv, ":")
		out.Spec.Addresses = append(out.Spec.Addresses, conv)
	}
	if unordered(out.Spec.Addresses) {
		notes = append(notes, Note{Field: "spec.addresses", Message: "not in ascending order: MetalLB hands out the entries in the order written, IronLB the lowest free address first, so new Services may get other addresses than MetalLB would have given (Services keep the ones they hold)"})
	}
	out.Spec.AutoAssign = in.Spec.AutoAssign
	out.Spec.AvoidBuggyIPs = in.Spec.AvoidBuggyIPs
	if in.Spec.AvoidBuggyIPs && hasV6 {
		notes = append(notes, Note{Field: "spec.avoidBuggyIPs", Message: "IronLB also skips the IPv6 subnet-router anycast address (the all-zeros host) of each IPv6 prefix of /126 or shorter, which MetalLB hands out: a Service holding that address gets a new one"})
	}
	if sa := in.Spec.ServiceAllocation; sa != nil {
		out.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
			Priority:           int32(sa.Priority),
			Namespaces:         sa.Namespaces,
			NamespaceSelectors: sa.NamespaceSelectors,
			ServiceSelectors:   sa.ServiceSelectors,
		}
	}
	return out, notes, nil
}

// address converts one spec.addresses entry. MetalLB reads a CIDR with host
// bits set ("198.51.100.10/24") as its whole prefix; IronLB rejects it, so
// it is written as the prefix MetalLB used.
func address(a string) (string, string) {
	t := strings.TrimSpace(a)
	if strings.Contains(t, "/") && !strings.Contains(t, "-") {
		if p, err := netip.ParsePrefix(t); err == nil && p.Masked() != p {
			return p.Masked().String(), fmt.Sprintf("%q has host bits set; MetalLB uses the whole prefix, written %s here as IronLB requires", a, p.Masked())
		}
	}
	return t, ""
}

// unordered reports whether an entry of addresses starts below an earlier
// entry of its family. Entries that do not parse are left to validation.
func unordered(addresses []string) bool {
	var last [2]netip.Addr
	for _, a := range addresses {
		r, err := iprange.ParseRange(a)
		if err != nil {
			continue
		}
		fi := 0
		if r.First.Is6() {
			fi = 1
		}
		if last[fi].IsValid() && r.First.Less(last[fi]) {
			return true
		}
		last[fi] = r.First
	}
	return false
}

// fixPriorities gives MetalLB's unprioritised pools IronLB's equivalent.
// MetalLB tries a pool with a serviceAllocation but no priority (0) after
// every pool with one; IronLB tries the lowest number first, 0 included.
// Such pools get one more than the highest priority converted, which keeps
// MetalLB's order (MetalLB picks among equal priorities at random, IronLB
// by name). Without any priority set, nothing changes.
func fixPriorities(objs []Object) {
	highest := int32(0)
	for _, o := range objs {
		if p, ok := o.Obj.(*v1beta1.IPAddressPool); ok && p.Spec.ServiceAllocation != nil {
			highest = max(highest, p.Spec.ServiceAllocation.Priority)
		}
	}
	if highest == 0 {
		return
	}
	for i := range objs {
		p, ok := objs[i].Obj.(*v1beta1.IPAddressPool)
		if !ok || p.Spec.ServiceAllocation == nil || p.Spec.ServiceAllocation.Priority != 0 {
			continue
		}
		p.Spec.ServiceAllocation.Priority = highest + 1
		objs[i].Notes = append(objs[i].Notes, Note{Field: "spec.serviceAllocation.priority", Message: fmt.Sprintf(
			"unset: MetalLB tries this pool after every pool with a priority, IronLB tries the lowest number first, so it is %d here (the highest priority converted plus one)", highest+1)})
	}
}

func convertL2(raw []byte) (runtime.Object, []Note, error) {
	var in mlbL2
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.L2Advertisement{TypeMeta: typeMeta(config.KindL2Advertisement), ObjectMeta: meta(in.ObjectMeta)}
	out.Spec.IPAddressPools = in.Spec.IPAddressPools
	out.Spec.IPAddressPoolSelectors = in.Spec.IPAddressPoolSelectors
	out.Spec.NodeSelectors = in.Spec.NodeSelectors
	out.Spec.ServiceSelectors = in.Spec.ServiceSelectors
	out.Spec.Interfaces = in.Spec.Interfaces
	for i, name := range in.Spec.Interfaces {
		if strings.ContainsAny(name, "*?[") {
			notes = append(notes, Note{Field: fmt.Sprintf("spec.interfaces[%d]", i), Message: fmt.Sprintf("IronLB reads %q as a shell pattern, MetalLB as a literal interface name", name)})
		}
	}
	if len(in.Spec.PreferredNodeSelectors) > 0 {
		notes = append(notes, Note{Field: "spec.preferredNodeSelectors", Message: whyPreferredNodes})
	}
	return out, notes, nil
}

func convertBGPAdv(raw []byte) (runtime.Object, []Note, error) {
	var in mlbBGPAdv
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.BGPAdvertisement{TypeMeta: typeMeta(config.KindBGPAdvertisement), ObjectMeta: meta(in.ObjectMeta)}
	s := in.Spec
	out.Spec.AggregationLength = s.AggregationLength
	out.Spec.AggregationLengthV6 = s.AggregationLengthV6
	if s.LocalPref != 0 { // MetalLB sends no LOCAL_PREF for 0
		lp := s.LocalPref
		out.Spec.LocalPref = &lp
	}
	out.Spec.Communities = s.Communities
	out.Spec.IPAddressPools = s.IPAddressPools
	out.Spec.IPAddressPoolSelectors = s.IPAddressPoolSelectors
	out.Spec.NodeSelectors = s.NodeSelectors
	out.Spec.Peers = s.Peers
	out.Spec.ServiceSelectors = s.ServiceSelectors
	return out, notes, nil
}

func convertBFD(raw []byte) (runtime.Object, []Note, error) {
	var in mlbBFD
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.BFDProfile{TypeMeta: typeMeta(config.KindBFDProfile), ObjectMeta: meta(in.ObjectMeta)}
	s := in.Spec
	out.Spec.ReceiveInterval = s.ReceiveInterval
	out.Spec.TransmitInterval = s.TransmitInterval
	out.Spec.DetectMultiplier = s.DetectMultiplier
	if s.EchoMode != nil && *s.EchoMode {
		notes = append(notes, Note{Field: "spec.echoMode", Message: "no equivalent: IronLB's BFD (GoBGP's) has no echo mode; sessions use control packets at the transmit and receive intervals"})
	}
	if s.EchoInterval != nil {
		notes = append(notes, Note{Field: "spec.echoInterval", Message: "no equivalent: IronLB's BFD has no echo mode"})
	}
	if s.PassiveMode != nil && *s.PassiveMode {
		out.Spec.PassiveMode = true
		notes = append(notes, Note{Field: "spec.passiveMode", Message: "converted, but GoBGP's BFD does not implement it yet: the speaker logs it and starts the session itself"})
	}
	if s.MinimumTTL != nil {
		out.Spec.MinimumTTL = s.MinimumTTL
		notes = append(notes, Note{Field: "spec.minimumTtl", Message: "converted to spec.minimumTTL, but GoBGP's BFD does not implement it yet (logged by the speaker)"})
	}
	return out, notes, nil
}

func convertCommunity(raw []byte) (runtime.Object, []Note, error) {
	var in mlbCommunity
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.Community{TypeMeta: typeMeta(config.KindCommunity), ObjectMeta: meta(in.ObjectMeta)}
	for _, a := range in.Spec.Communities {
		out.Spec.Communities = append(out.Spec.Communities, v1beta1.CommunityAlias{Name: a.Name, Value: a.Value})
	}
	return out, notes, nil
}

// ironlbNamespace is where IronLB reads BGP password Secrets.
const ironlbNamespace = "ironlb-system"

func convertPeer(raw []byte) (runtime.Object, []Note, error) {
	var in mlbPeer
	notes, err := decodeStrict(raw, &in)
	if err != nil {
		return nil, nil, err
	}
	out := &v1beta1.BGPPeer{TypeMeta: typeMeta(config.KindBGPPeer), ObjectMeta: meta(in.ObjectMeta)}
	s := in.Spec
	out.Spec.MyASN = s.MyASN
	out.Spec.ASN = s.ASN
	out.Spec.DynamicASN = v1beta1.DynamicASNMode(s.DynamicASN)
	out.Spec.Address = s.Address
	out.Spec.SourceAddress = s.SrcAddress
	out.Spec.Port = int32(s.Port)
	out.Spec.HoldTime = duration(s.HoldTime)
	out.Spec.KeepaliveTime = duration(s.KeepaliveTime)
	out.Spec.ConnectTime = duration(s.ConnectTime)
	out.Spec.RouterID = s.RouterID
	out.Spec.NodeSelectors = s.NodeSelectors
	out.Spec.Password = s.Password
	out.Spec.BFDProfile = s.BFDProfile
	out.Spec.EnableGracefulRestart = s.EnableGracefulRestart
	out.Spec.EBGPMultiHop = s.EBGPMultiHop
	if ref := s.PasswordSecret; ref != nil && ref.Name != "" {
		out.Spec.PasswordSecret = &v1beta1.SecretReference{Name: ref.Name, Namespace: ironlbNamespace}
		from := ref.Namespace
		if from == "" {
			from = in.Namespace
		}
		notes = append(notes, Note{Field: "spec.passwordSecret", Message: fmt.Sprintf(
			"IronLB reads password Secrets in %s only: copy Secret %s/%s there (same name, type kubernetes.io/basic-auth, key password) before the speakers start", ironlbNamespace, from, ref.Name)})
	}
	if s.LocalASN != 0 {
		notes = append(notes, Note{Field: "spec.localASN", Message: fmt.Sprintf(
			"no equivalent (FRR's local-as): the peer will see myASN %d instead of %d; set myASN to %d here or change the router", s.MyASN, s.LocalASN, s.LocalASN)})
	}
	if s.Interface != "" {
		notes = append(notes, Note{Field: "spec.interface", Message: fmt.Sprintf(
			"no equivalent: IronLB has no BGP unnumbered peering (interface %q); set spec.peerAddress to the router's address on that link", s.Interface)})
	}
	if s.VRFName != "" {
		notes = append(notes, Note{Field: "spec.vrf", Message: fmt.Sprintf(
			"no equivalent: IronLB's speaker peers from the node's default VRF only, not from VRF %q", s.VRFName)})
	}
	if s.DualStackAddressFamily {
		notes = append(notes, Note{Field: "spec.dualStackAddressFamily", Message: "no equivalent: an IronLB session carries only the address family of its peer's address; add a BGPPeer for the router's address of the other family"})
	}
	if s.DisableMP {
		notes = append(notes, Note{Field: "spec.disableMP", Message: "dropped: IronLB always behaves so (a session carries only its peer's address family)"})
	}
	return out, notes, nil
}

// duration drops MetalLB's zero durations (v1beta1 wrote unset ones as 0s).
func duration(d *metav1.Duration) *metav1.Duration {
	if d == nil || d.Duration == 0 {
		return nil
	}
	return d
}
