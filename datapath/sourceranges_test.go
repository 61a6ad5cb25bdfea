package datapath

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func ranges(list ...string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = list }
}

func allow(list ...string) SourceRanges {
	out := SourceRanges{Restricted: true}
	for _, p := range list {
		out.Allowed = append(out.Allowed, netip.MustParsePrefix(p))
	}
	return out
}

func TestDesiredSourceRanges(t *testing.T) {
	dual := []string{"203.0.113.10", "2001:db8:300::10"}
	tests := []struct {
		name       string
		svc        *corev1.Service
		want4      SourceRanges // for 203.0.113.10:80/TCP
		want6      SourceRanges // for [2001:db8:300::10]:80/TCP
		problems   []string
		noV6, noV4 bool
	}{
		{name: "no ranges: everyone", svc: mkSvc("web", dual)},
		{
			name:  "field, split by family, masked, sorted, deduplicated, trimmed",
			svc:   mkSvc("web", dual, ranges(" 198.51.100.0/24", "2001:db8:1::/48", "192.0.2.77/24", "192.0.2.0/24", "2001:db8:1::5/48")),
			want4: allow("192.0.2.0/24", "198.51.100.0/24"),
			want6: allow("2001:db8:1::/48"),
		},
		{
			name:  "annotation when the field is empty",
			svc:   mkSvc("web", dual, annotate(AnnotationSourceRanges, "198.51.100.0/24, 2001:db8:1::/48,")),
			want4: allow("198.51.100.0/24"),
			want6: allow("2001:db8:1::/48"),
		},
		{
			name:  "the field wins over the annotation",
			svc:   mkSvc("web", dual, ranges("198.51.100.0/24", "2001:db8:1::/48"), annotate(AnnotationSourceRanges, "192.0.2.0/24")),
			want4: allow("198.51.100.0/24"),
			want6: allow("2001:db8:1::/48"),
		},
		{
			name: "blank annotation: everyone",
			svc:  mkSvc("web", dual, annotate(AnnotationSourceRanges, "  ")),
		},
		{
			name:  "a /0 of a family lifts that family's restriction only",
			svc:   mkSvc("web", dual, ranges("0.0.0.0/0", "2001:db8:1::/48")),
			want6: allow("2001:db8:1::/48"),
		},
		{
			name:     "malformed entry: reported, admits nobody, the valid ones still apply (fails closed)",
			svc:      mkSvc("web", dual, ranges("198.51.100.0/24", "10.0.0.0/33", "2001:db8:1::/48")),
			want4:    allow("198.51.100.0/24"),
			want6:    allow("2001:db8:1::/48"),
			problems: []string{`Service ns/web: spec.loadBalancerSourceRanges[1]: "10.0.0.0/33" is not a CIDR`},
		},
		{
			name:  "only malformed entries: nobody (kube-proxy would admit everyone)",
			svc:   mkSvc("web", []string{"203.0.113.10"}, annotate(AnnotationSourceRanges, "10.0.0.0/8;192.0.2.0/24")),
			want4: allow(),
			noV6:  true,
			problems: []string{
				`metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: "10.0.0.0/8;192.0.2.0/24" is not a CIDR`,
				`metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: no valid IPv4 range; IPv4 clients`,
			},
		},
		{
			name:     "dual-stack with IPv4 ranges only: IPv6 clients dropped, reported",
			svc:      mkSvc("web", dual, ranges("198.51.100.0/24")),
			want4:    allow("198.51.100.0/24"),
			want6:    allow(),
			problems: []string{"spec.loadBalancerSourceRanges[0]: no valid IPv6 range"},
		},
		{
			name:  "single-stack IPv6 with an IPv4 range beside: not reported for IPv4",
			svc:   mkSvc("web", []string{"2001:db8:300::10"}, ranges("198.51.100.0/24", "2001:db8:1::/48")),
			want6: allow("2001:db8:1::/48"),
			noV4:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(Inputs{Node: node, Services: []*corev1.Service{tc.svc}})
			check := func(k ServiceKey, want SourceRanges, absent bool) {
				vs, ok := got.Services[k]
				if absent {
					if ok {
						t.Errorf("%s: unexpected service", k)
					}
					return
				}
				if !ok {
					t.Fatalf("%s: missing", k)
				}
				if !reflect.DeepEqual(vs.Sources, want) {
					t.Errorf("%s: sources %v (%#v), want %v (%#v)", k, vs.Sources, vs.Sources, want, want)
				}
			}
			check(key(vip4, 80, TCP), tc.want4, tc.noV4)
			check(key(vip6, 80, TCP), tc.want6, tc.noV6)
			checkProblems(t, got.Problems, tc.problems)
		})
	}
}

// Services sharing a VIP keep their own ranges on their own ports, and a
// change to one Service's ranges changes only its keys.
func TestSourceRangesPerServiceOnSharedVIP(t *testing.T) {
	web := mkSvc("web", []string{"203.0.113.10"}, ranges("198.51.100.0/24"))
	dns := mkSvc("dns", []string{"203.0.113.10"}, udp, func(s *corev1.Service) { s.Spec.Ports[0].Port = 53 })
	before := Desired(Inputs{Node: node, Services: []*corev1.Service{web, dns}})
	if got := before.Services[key(vip4, 80, TCP)].Sources; !got.Equal(allow("198.51.100.0/24")) {
		t.Errorf("web: %v", got)
	}
	if got := before.Services[key(vip4, 53, UDP)].Sources; got.Restricted {
		t.Errorf("dns took web's ranges: %v", got)
	}
	web2 := web.DeepCopy()
	web2.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24"}
	after := Desired(Inputs{Node: node, Services: []*corev1.Service{web2, dns}})
	ch := Diff(before, after)
	want := Changes{Updated: []ServiceUpdate{{Key: key(vip4, 80, TCP), Attributes: true}}}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("Diff %+v, want %+v", ch, want)
	}
}

func TestSourceRangesAdmits(t *testing.T) {
	s := allow("198.51.100.0/24", "2001:db8:1::/48")
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"198.51.100.7", true}, {"::ffff:198.51.100.7", true}, {"192.0.2.1", false},
		{"2001:db8:1::9", true}, {"2001:db8:2::9", false},
	} {
		if got := s.Admits(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Admits(%s) = %v", tc.addr, got)
		}
	}
	if !(SourceRanges{}).Admits(netip.MustParseAddr("192.0.2.1")) || allow().Admits(netip.MustParseAddr("192.0.2.1")) {
		t.Error("zero value must admit everyone, an empty restriction nobody")
	}
}
