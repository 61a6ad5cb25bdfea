package migrate

import (
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

// convertYAML converts multi-document YAML.
func convertYAML(t *testing.T, in string) Result {
	t.Helper()
	raw, err := config.SplitDocuments([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]Doc, len(raw))
	for i, r := range raw {
		docs[i] = Doc{Where: "in", JSON: r}
	}
	return Convert(docs)
}

// specYAML is the spec of the only converted object, as YAML, for compact
// comparison.
func specYAML(t *testing.T, r Result) string {
	t.Helper()
	if len(r.Objects) != 1 {
		t.Fatalf("%d objects, want 1: %+v", len(r.Objects), r)
	}
	u, err := r.Objects[0].Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(u.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}

func TestConvertFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		spec  string   // the converted spec as YAML
		notes []string // Note.String() prefixes (field and start of message)
	}{
		{
			name:  "pool: CIDR with host bits becomes MetalLB's prefix",
			in:    "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec: {addresses: [198.51.100.10/24]}",
			spec:  "addresses:\n- 198.51.100.0/24\n",
			notes: []string{`spec.addresses[0]: "198.51.100.10/24" has host bits set`},
		},
		{
			name: "pool: entries out of order are noted, avoidBuggyIPs with IPv6 too",
			in: "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\n" +
				"spec: {addresses: [198.51.100.0/24, 192.0.2.1-192.0.2.5, '2001:db8:e799::/124'], avoidBuggyIPs: true, autoAssign: false}",
			spec:  "addresses:\n- 198.51.100.0/24\n- 192.0.2.1-192.0.2.5\n- 2001:db8:e799::/124\nautoAssign: false\navoidBuggyIPs: true\n",
			notes: []string{"spec.addresses: not in ascending order", "spec.avoidBuggyIPs: IronLB also skips the IPv6 subnet-router anycast"},
		},
		{
			name: "L2 without spec: every pool, as in MetalLB",
			in:   "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: example, namespace: metallb-system}",
			spec: "{}\n",
		},
		{
			name: "L2: serviceSelectors kept, preferredNodeSelectors have no equivalent",
			in: "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: a}\n" +
				"spec: {ipAddressPools: [p], interfaces: [eth0], nodeSelectors: [{matchLabels: {a: b}}], serviceSelectors: [{matchLabels: {tier: frontend}}], " +
				"preferredNodeSelectors: [{weight: 100, preference: {matchLabels: {node-role: edge}}}]}",
			spec:  "interfaces:\n- eth0\nipAddressPools:\n- p\nnodeSelectors:\n- matchLabels:\n    a: b\nserviceSelectors:\n- matchLabels:\n    tier: frontend\n",
			notes: []string{"spec.preferredNodeSelectors: no equivalent"},
		},
		{
			name: "BGP advertisement: localPref 0 is unset, serviceSelectors kept",
			in: "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\n" +
				"spec: {aggregationLength: 24, aggregationLengthV6: 120, localPref: 0, communities: [vpn-only, '65535:65282'], peers: [r1], ipAddressPoolSelectors: [{matchLabels: {pool: blue}}], serviceSelectors: [{matchLabels: {environment: production}}]}",
			spec: "aggregationLength: 24\naggregationLengthV6: 120\ncommunities:\n- vpn-only\n- 65535:65282\nipAddressPoolSelectors:\n- matchLabels:\n    pool: blue\npeers:\n- r1\nserviceSelectors:\n- matchLabels:\n    environment: production\n",
		},
		{
			name: "BGP advertisement: localPref kept",
			in:   "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {localPref: 200}",
			spec: "localPref: 200\n",
		},
		{
			name: "BFD: echo mode has no equivalent, minimumTtl is renamed",
			in: "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b}\n" +
				"spec: {receiveInterval: 380, transmitInterval: 270, detectMultiplier: 5, echoMode: true, echoInterval: 50, passiveMode: true, minimumTtl: 10}",
			spec:  "detectMultiplier: 5\nminimumTTL: 10\npassiveMode: true\nreceiveInterval: 380\ntransmitInterval: 270\n",
			notes: []string{"spec.echoMode: no equivalent", "spec.echoInterval: no equivalent", "spec.passiveMode: converted, but", "spec.minimumTtl: converted to spec.minimumTTL"},
		},
		{
			name: "v1beta1 peer: zero durations dropped, node selectors kept",
			in: "apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: r}\n" +
				"spec: {myASN: 64512, peerASN: 64513, peerAddress: 192.0.2.1, holdTime: 0s, keepaliveTime: 10s, peerPort: 1179, password: s3cret, ebgpMultiHop: true, " +
				"nodeSelectors: [{matchExpressions: [{key: rack, operator: In, values: [a]}]}]}",
			spec: "ebgpMultiHop: true\nkeepaliveTime: 10s\nmyASN: 64512\nnodeSelectors:\n- matchExpressions:\n  - key: rack\n    operator: In\n    values:\n    - a\npassword: s3cret\npeerASN: 64513\npeerAddress: 192.0.2.1\npeerPort: 1179\n",
		},
		{
			name: "v1beta2 peer: secret moves to ironlb-system; FRR-only fields noted",
			in: "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r, namespace: metallb-system}\n" +
				"spec: {myASN: 64512, dynamicASN: external, peerAddress: '2001:db8::1', connectTime: 5s, enableGracefulRestart: true, bfdProfile: b, routerID: 192.0.2.9, sourceAddress: '2001:db8::2', " +
				"passwordSecret: {name: pw}, localASN: 65410, vrf: red, interface: eth1, dualStackAddressFamily: true, disableMP: true}",
			spec: "bfdProfile: b\nconnectTime: 5s\ndynamicASN: external\nenableGracefulRestart: true\nmyASN: 64512\npasswordSecret:\n  name: pw\n  namespace: ironlb-system\npeerAddress: 2001:db8::1\nrouterID: 192.0.2.9\nsourceAddress: 2001:db8::2\n",
			notes: []string{
				"spec.passwordSecret: IronLB reads password Secrets in ironlb-system only: copy Secret metallb-system/pw there",
				"spec.localASN: no equivalent (FRR's local-as): the peer will see myASN 64512 instead of 65410",
				`spec.interface: no equivalent: IronLB has no BGP unnumbered peering (interface "eth1")`,
				`spec.vrf: no equivalent: IronLB's speaker peers from the node's default VRF only, not from VRF "red"`,
				"spec.dualStackAddressFamily: no equivalent",
				"spec.disableMP: dropped: IronLB always behaves so",
			},
		},
		{
			name: "community aliases",
			in:   "apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\nspec: {communities: [{name: vpn-only, value: '1234:1'}]}",
			spec: "communities:\n- name: vpn-only\n  value: \"1234:1\"\n",
		},
		{
			name:  "a field this converter does not know is noted, not lost silently",
			in:    "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [192.0.2.0/28], futureField: 1}\nstatus: {assignedIPv4: 3}",
			spec:  "addresses:\n- 192.0.2.0/28\n",
			notes: []string{`spec.futureField: unknown to this converter`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := convertYAML(t, tc.in)
			if len(r.Skipped) > 0 {
				t.Fatalf("skipped: %+v", r.Skipped)
			}
			if got := specYAML(t, r); got != tc.spec {
				t.Errorf("spec:\n%s\nwant:\n%s", got, tc.spec)
			}
			notes := r.Objects[0].Notes
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d starting %q", notes, len(tc.notes), tc.notes)
			}
			for i, n := range notes {
				if !strings.HasPrefix(n.String(), tc.notes[i]) {
					t.Errorf("note %d: %q, want it to start %q", i, n, tc.notes[i])
				}
			}
		})
	}
}

func TestConvertMetadata(t *testing.T) {
	r := convertYAML(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: p
  namespace: metallb-system
  uid: 0b5f
  resourceVersion: "12"
  creationTimestamp: "2026-01-01T00:00:00Z"
  labels: {zone: a}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    meta.helm.sh/release-name: metallb-config
    team: net
spec: {addresses: [192.0.2.0/28]}`)
	u, err := r.Objects[0].Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "p", "labels": map[string]any{"zone": "a"}, "annotations": map[string]any{"team": "net"}}
	if got := u.Object["metadata"]; !reflect.DeepEqual(got, want) {
		t.Errorf("metadata %v, want %v", got, want)
	}
	if u.GetAPIVersion() != "ironlb.io/v1beta1" || u.GetKind() != "IPAddressPool" {
		t.Errorf("type %s %s", u.GetAPIVersion(), u.GetKind())
	}
	if _, ok := u.Object["status"]; ok {
		t.Error("status kept")
	}
}

// TestPriorities: MetalLB tries a pool with a serviceAllocation but no
// priority after every prioritised one; IronLB tries 0 first, so such pools
// get the highest priority plus one.
func TestPriorities(t *testing.T) {
	pool := func(name, extra string) string {
		return "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: " + name + "}\nspec: {addresses: [192.0.2." + name[1:] + "/32]" + extra + "}\n---\n"
	}
	prio := func(r Result) map[string]int32 {
		out := map[string]int32{}
		for _, o := range r.Objects {
			if sa := o.Obj.(*v1beta1.IPAddressPool).Spec.ServiceAllocation; sa != nil {
				out[o.Name] = sa.Priority
			}
		}
		return out
	}
	r := convertYAML(t, pool("p1", ", serviceAllocation: {priority: 50, namespaces: [a]}")+
		pool("p2", ", serviceAllocation: {namespaces: [a]}")+
		pool("p3", ", serviceAllocation: {priority: 7, namespaces: [a]}")+
		pool("p4", ""))
	if got, want := prio(r), map[string]int32{"p1": 50, "p2": 51, "p3": 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("priorities %v, want %v", got, want)
	}
	if got := noteKeys(r); !reflect.DeepEqual(got, []string{"IPAddressPool/p2 spec.serviceAllocation.priority"}) {
		t.Errorf("notes %q", got)
	}
	// No priority anywhere: MetalLB's order is IronLB's (by name), nothing changes.
	r = convertYAML(t, pool("p1", ", serviceAllocation: {namespaces: [a]}")+pool("p2", ", serviceAllocation: {namespaces: [b]}"))
	if got, want := prio(r), map[string]int32{"p1": 0, "p2": 0}; !reflect.DeepEqual(got, want) || len(noteKeys(r)) > 0 {
		t.Errorf("priorities %v (notes %q), want %v and no notes", got, noteKeys(r), want)
	}
}

func TestConvertSkips(t *testing.T) {
	r := convertYAML(t, `apiVersion: v1
kind: List
items:
- apiVersion: metallb.io/v1beta1
  kind: L2Advertisement
  metadata: {name: a, namespace: metallb-system}
- apiVersion: metallb.io/v1beta1
  kind: L2Advertisement
  metadata: {name: a, namespace: other-metallb}
---
apiVersion: metallb.io/v1beta1
kind: ServiceL2Status
metadata: {name: l2-abc, namespace: metallb-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: metallb-system}
data: {config: "address-pools: []"}
---
apiVersion: v1
kind: Secret
metadata: {name: pw, namespace: metallb-system}
---
apiVersion: example.com/v1
kind: Thing
metadata: {name: t}
items: {not: a list}
data: [1, 2]
---
apiVersion: metallb.io/v1beta3
kind: BGPPeer
metadata: {name: r}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p}
spec: {addresses: "not a list"}
`)
	if len(r.Objects) != 1 || r.Objects[0].Name != "a" || !strings.Contains(r.Objects[0].From, "metallb-system/a (in items[0])") {
		t.Errorf("objects %+v, want L2Advertisement a from List item 0", r.Objects)
	}
	want := []struct {
		contains string
		err      bool
	}{
		{`already converted from namespace "metallb-system"`, true},
		{"status written by MetalLB's speakers", false},
		{"configmaptocrs", true},
		{"not a MetalLB object", false},
		{"not a MetalLB object", false},
		{"metallb.io/v1beta3 BGPPeer is not a kind or version this converter reads", true},
		{"does not decode", true},
	}
	if len(r.Skipped) != len(want) {
		t.Fatalf("skipped %+v, want %d", r.Skipped, len(want))
	}
	for i, w := range want {
		if s := r.Skipped[i]; !strings.Contains(s.Why, w.contains) || s.Error != w.err {
			t.Errorf("skipped[%d] = %+v, want %q (error %v)", i, s, w.contains, w.err)
		}
	}
	if !r.Errors() {
		t.Error("Errors() = false")
	}
}

// TestRenderComments: every note is a comment in front of its object, a
// skipped input is a comment-only document, and what Render writes loads
// back as the same IronLB objects.
func TestRenderComments(t *testing.T) {
	r := convertYAML(t, `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: r, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 198.51.100.3, vrf: "red\nkind: Evil"}
---
apiVersion: metallb.io/v1beta1
kind: ServiceBGPStatus
metadata: {name: s, namespace: metallb-system}
`)
	var b strings.Builder
	if err := Render(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# from metallb.io/v1beta2 BGPPeer metallb-system/r (in)\n# spec.vrf: no equivalent: IronLB's speaker peers from the node's default VRF only, not from VRF \"red\\nkind: Evil\"\napiVersion: ironlb.io/v1beta1\nkind: BGPPeer\n",
		"---\n# not converted: metallb.io/v1beta1 ServiceBGPStatus metallb-system/s (in): status written by MetalLB's speakers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	back, err := config.Load(strings.NewReader(out), "rendered")
	if err != nil {
		t.Fatalf("rendered output does not load: %v\n%s", err, out)
	}
	if len(back.BGPPeers) != 1 || !reflect.DeepEqual(back.BGPPeers[0].Spec, r.Objects[0].Obj.(*v1beta1.BGPPeer).Spec) {
		t.Errorf("loaded back %+v, want %+v", back.BGPPeers, r.Objects[0].Obj)
	}
}
