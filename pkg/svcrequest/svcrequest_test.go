package svcrequest

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
)

type svcOpt func(*corev1.Service)

// service returns default/web as the API server would store it: one TCP
// port, SingleStack IPv4, Cluster traffic policy.
func service(opts ...svcOpt) *corev1.Service {
	single := corev1.IPFamilyPolicySingleStack
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			Ports:                 []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        &single,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func annotate(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func lbIP(ip string) svcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip } }

func families(policy string, fs ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.IPFamilies = nil
		for _, f := range fs {
			s.Spec.IPFamilies = append(s.Spec.IPFamilies, corev1.IPFamily(f))
		}
		if policy == "" {
			s.Spec.IPFamilyPolicy = nil
			return
		}
		p := corev1.IPFamilyPolicy(policy)
		s.Spec.IPFamilyPolicy = &p
	}
}

// base is the request for service() with no options.
func base() ipam.Request {
	return ipam.Request{
		Service:  ipam.ServiceKey{Namespace: "default", Name: "web"},
		Families: []ipam.Family{ipam.IPv4},
		Ports:    []ipam.Port{{Protocol: "TCP", Port: 80}},
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestFromService(t *testing.T) {
	tests := []struct {
		name     string
		svc      *corev1.Service
		nsLabels map[string]string
		want     func(*ipam.Request)
		warnings []string
		err      string // exact error
	}{
		{name: "plain", svc: service(), want: func(*ipam.Request) {}},
		{
			name:     "labels and namespace labels pass through",
			svc:      service(func(s *corev1.Service) { s.Labels = map[string]string{"tier": "web"} }),
			nsLabels: map[string]string{"env": "prod"},
			want: func(r *ipam.Request) {
				r.Labels = map[string]string{"tier": "web"}
				r.NamespaceLabels = map[string]string{"env": "prod"}
			},
		},
		{
			name: "ports, default protocol TCP",
			svc: service(func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}, {Port: 53}, {Port: 9, Protocol: corev1.ProtocolSCTP}}
			}),
			want: func(r *ipam.Request) {
				r.Ports = []ipam.Port{{Protocol: "UDP", Port: 53}, {Protocol: "TCP", Port: 53}, {Protocol: "SCTP", Port: 9}}
			},
		},
		{
			name: "no ports",
			svc:  service(func(s *corev1.Service) { s.Spec.Ports = nil }),
			want: func(r *ipam.Request) { r.Ports = nil },
		},
		{
			name: "local traffic policy: canonical selector",
			svc: service(func(s *corev1.Service) {
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.Selector = map[string]string{"tier": "web", "app": "shop"}
			}),
			want: func(r *ipam.Request) { r.Local, r.Backend = true, "app=shop,tier=web" },
		},
		{
			name: "cluster traffic policy: selector ignored",
			svc:  service(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "shop"} }),
			want: func(*ipam.Request) {},
		},
		{
			name: "loadBalancerIP",
			svc:  service(lbIP(" 192.0.2.10 ")),
			want: func(r *ipam.Request) { r.RequestedIPs = addrs("192.0.2.10") },
		},
		{
			name: "loadBalancerIPs annotation, dual stack",
			svc:  service(families("RequireDualStack", "IPv6", "IPv4"), annotate(AnnotationLoadBalancerIPs, "192.0.2.10, 2001:db8::10")),
			want: func(r *ipam.Request) {
				r.Families = []ipam.Family{ipam.IPv6, ipam.IPv4}
				r.FamilyPolicy = ipam.RequireDualStack
				r.RequestedIPs = addrs("192.0.2.10", "2001:db8::10")
			},
		},
		{
			name: "loadBalancerIP agreeing with the annotation",
			svc:  service(lbIP("192.0.2.10"), families("PreferDualStack", "IPv4", "IPv6"), annotate(AnnotationLoadBalancerIPs, "2001:db8::10,192.0.2.10")),
			want: func(r *ipam.Request) {
				r.Families = []ipam.Family{ipam.IPv4, ipam.IPv6}
				r.FamilyPolicy = ipam.PreferDualStack
				r.RequestedIPs = addrs("2001:db8::10", "192.0.2.10")
			},
		},
		{
			name: "loadBalancerIP conflicting with the annotation",
			svc:  service(lbIP("192.0.2.10"), annotate(AnnotationLoadBalancerIPs, "192.0.2.11")),
			err:  `service default/web: spec.loadBalancerIP 192.0.2.10 conflicts with annotation ironlb.io/loadBalancerIPs "192.0.2.11"`,
		},
		{
			name: "bad IP in annotation",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "192.0.2.300")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: "192.0.2.300" is not an IP address`,
		},
		{
			name: "bad loadBalancerIP",
			svc:  service(lbIP("banana")),
			err:  `service default/web: spec.loadBalancerIP: "banana" is not an IP address`,
		},
		{
			name: "zoned address",
			svc:  service(families("", "IPv6"), annotate(AnnotationLoadBalancerIPs, "fe80::1%eth0")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: "fe80::1%eth0" has an IPv6 zone, which is not allowed`,
		},
		{
			name: "mapped address",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "::ffff:192.0.2.1")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: "::ffff:192.0.2.1" is an IPv4-mapped IPv6 address; write 192.0.2.1`,
		},
		{
			name: "two of one family",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "192.0.2.1,192.0.2.2")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: more than one IPv4 address (192.0.2.1, 192.0.2.2) in "192.0.2.1,192.0.2.2"`,
		},
		{
			name: "empty entry",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "192.0.2.1,")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: empty entry in "192.0.2.1,"`,
		},
		{
			name: "requested family the service does not have",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "2001:db8::1")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: 2001:db8::1 is IPv6 but the service has only IPv4`,
		},
		{
			name: "requested family outside single stack of a dual service",
			svc:  service(lbIP("2001:db8::1"), families("SingleStack", "IPv4")),
			err:  `service default/web: spec.loadBalancerIP: 2001:db8::1 is IPv6 but the service has only IPv4`,
		},
		{
			name: "whitespace-only annotation is unset",
			svc:  service(annotate(AnnotationLoadBalancerIPs, "  ", AnnotationAddressPool, " ", AnnotationAllowSharedIP, "")),
			want: func(*ipam.Request) {},
		},
		{
			name: "pool and sharing key",
			svc:  service(annotate(AnnotationAddressPool, " web-pool ", AnnotationAllowSharedIP, "shared-1")),
			want: func(r *ipam.Request) { r.RequestedPool, r.SharingKey = "web-pool", "shared-1" },
		},
		{
			name: "metallb annotations accepted with warnings",
			svc: service(annotate(AnnotationMetalLBAddressPool, "p", AnnotationMetalLBAllowSharedIP, "k",
				AnnotationMetalLBLoadBalancerIPs, "192.0.2.5")),
			want: func(r *ipam.Request) {
				r.RequestedPool, r.SharingKey, r.RequestedIPs = "p", "k", addrs("192.0.2.5")
			},
			warnings: []string{
				"annotation metallb.io/address-pool is deprecated here, use ironlb.io/address-pool",
				"annotation metallb.io/allow-shared-ip is deprecated here, use ironlb.io/allow-shared-ip",
				"annotation metallb.io/loadBalancerIPs is deprecated here, use ironlb.io/loadBalancerIPs",
			},
		},
		{
			name: "ironlb wins over metallb, warning when they differ",
			svc: service(annotate(AnnotationAddressPool, "ours", AnnotationMetalLBAddressPool, "theirs",
				AnnotationAllowSharedIP, "k", AnnotationMetalLBAllowSharedIP, "k",
				AnnotationLoadBalancerIPs, "192.0.2.5", AnnotationMetalLBLoadBalancerIPs, "bogus")),
			want: func(r *ipam.Request) {
				r.RequestedPool, r.SharingKey, r.RequestedIPs = "ours", "k", addrs("192.0.2.5")
			},
			warnings: []string{
				`annotation metallb.io/address-pool ("theirs") is ignored because ironlb.io/address-pool ("ours") is set`,
				"annotation metallb.io/allow-shared-ip is deprecated here, use ironlb.io/allow-shared-ip",
				`annotation metallb.io/loadBalancerIPs ("bogus") is ignored because ironlb.io/loadBalancerIPs ("192.0.2.5") is set`,
			},
		},
		{
			name: "older metallb.universe.tf annotations accepted with warnings",
			svc: service(annotate("metallb.universe.tf/address-pool", "p", "metallb.universe.tf/allow-shared-ip", "k",
				"metallb.universe.tf/loadBalancerIPs", "192.0.2.5")),
			want: func(r *ipam.Request) {
				r.RequestedPool, r.SharingKey, r.RequestedIPs = "p", "k", addrs("192.0.2.5")
			},
			warnings: []string{
				"annotation metallb.universe.tf/address-pool is deprecated here, use ironlb.io/address-pool",
				"annotation metallb.universe.tf/allow-shared-ip is deprecated here, use ironlb.io/allow-shared-ip",
				"annotation metallb.universe.tf/loadBalancerIPs is deprecated here, use ironlb.io/loadBalancerIPs",
			},
		},
		{
			name: "metallb.io wins over metallb.universe.tf, warning naming both when they differ",
			svc: service(annotate(AnnotationMetalLBAddressPool, "new", "metallb.universe.tf/address-pool", "old",
				"metallb.universe.tf/loadBalancerIPs", "192.0.2.6")),
			want: func(r *ipam.Request) { r.RequestedPool, r.RequestedIPs = "new", addrs("192.0.2.6") },
			warnings: []string{
				"annotation metallb.io/address-pool is deprecated here, use ironlb.io/address-pool",
				`annotation metallb.universe.tf/address-pool ("old") is ignored because metallb.io/address-pool ("new") is set`,
				"annotation metallb.universe.tf/loadBalancerIPs is deprecated here, use ironlb.io/loadBalancerIPs",
			},
		},
		{
			name: "errors name the metallb.universe.tf annotation when it is the one used",
			svc:  service(annotate("metallb.universe.tf/loadBalancerIPs", "nope")),
			err:  `service default/web: annotation metallb.universe.tf/loadBalancerIPs: "nope" is not an IP address`,
			warnings: []string{
				"annotation metallb.universe.tf/loadBalancerIPs is deprecated here, use ironlb.io/loadBalancerIPs",
			},
		},
		{
			name: "errors name the metallb annotation when it is the one used",
			svc:  service(annotate(AnnotationMetalLBLoadBalancerIPs, "nope")),
			err:  `service default/web: annotation metallb.io/loadBalancerIPs: "nope" is not an IP address`,
			warnings: []string{
				"annotation metallb.io/loadBalancerIPs is deprecated here, use ironlb.io/loadBalancerIPs",
			},
		},
		{
			name: "no families, no IPs: IPv4 single stack",
			svc:  service(families("")),
			want: func(*ipam.Request) {},
		},
		{
			name: "no families: derived from requested IP",
			svc:  service(families(""), lbIP("2001:db8::5")),
			want: func(r *ipam.Request) { r.Families, r.RequestedIPs = []ipam.Family{ipam.IPv6}, addrs("2001:db8::5") },
		},
		{
			name: "no families, prefer dual: derived plus the other",
			svc:  service(families("PreferDualStack"), annotate(AnnotationLoadBalancerIPs, "2001:db8::5")),
			want: func(r *ipam.Request) {
				r.Families, r.FamilyPolicy, r.RequestedIPs = []ipam.Family{ipam.IPv6, ipam.IPv4}, ipam.PreferDualStack, addrs("2001:db8::5")
			},
		},
		{
			name: "no families, require dual, nothing requested",
			svc:  service(families("RequireDualStack")),
			want: func(r *ipam.Request) {
				r.Families, r.FamilyPolicy = []ipam.Family{ipam.IPv4, ipam.IPv6}, ipam.RequireDualStack
			},
		},
		{
			name: "no families, single stack, two requested: second is an error",
			svc:  service(families(""), annotate(AnnotationLoadBalancerIPs, "2001:db8::5,192.0.2.1")),
			err:  `service default/web: annotation ironlb.io/loadBalancerIPs: 192.0.2.1 is IPv4 but the service has only IPv6`,
		},
		{
			name: "prefer dual stack with one family",
			svc:  service(families("PreferDualStack", "IPv6")),
			want: func(r *ipam.Request) { r.Families, r.FamilyPolicy = []ipam.Family{ipam.IPv6}, ipam.PreferDualStack },
		},
		{
			name: "unknown family",
			svc:  service(families("SingleStack", "IPv5")),
			err:  `service default/web: spec.ipFamilies: unknown family "IPv5"`,
		},
		{
			name: "duplicate family",
			svc:  service(families("RequireDualStack", "IPv4", "IPv4")),
			err:  `service default/web: spec.ipFamilies: IPv4 listed twice`,
		},
		{
			name: "unknown policy",
			svc:  service(families("Whatever", "IPv4")),
			err:  `service default/web: spec.ipFamilyPolicy: unknown policy "Whatever"`,
		},
		{
			name: "single stack with two families",
			svc:  service(families("SingleStack", "IPv4", "IPv6")),
			err:  `service default/web: spec.ipFamilies lists two families but spec.ipFamilyPolicy is SingleStack`,
		},
		{
			name: "require dual with one family",
			svc:  service(families("RequireDualStack", "IPv6")),
			err:  `service default/web: spec.ipFamilyPolicy RequireDualStack needs two spec.ipFamilies, got IPv6`,
		},
		{
			name: "nil policy means single stack",
			svc:  service(families("", "IPv6")),
			want: func(r *ipam.Request) { r.Families = []ipam.Family{ipam.IPv6} },
		},
		{
			name: "missing name",
			svc:  service(func(s *corev1.Service) { s.Name = "" }),
			err:  "service default/: invalid request for service default/: service namespace and name must be set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := FromService(tt.svc, tt.nsLabels)
			if !reflect.DeepEqual(warnings, tt.warnings) && !(len(warnings) == 0 && len(tt.warnings) == 0) {
				t.Errorf("warnings\n got %q\nwant %q", warnings, tt.warnings)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error\n got %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := base()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("request\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestFromServiceNil(t *testing.T) {
	if _, _, err := FromService(nil, nil); err == nil || !strings.Contains(err.Error(), "nil service") {
		t.Fatalf("FromService(nil) error = %v", err)
	}
}

// The request feeds the allocator directly: the result must allocate.
func TestFromServiceAllocates(t *testing.T) {
	r, _, err := FromService(service(families("RequireDualStack", "IPv4", "IPv6"),
		annotate(AnnotationLoadBalancerIPs, "2001:db8::7")), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := ipam.New()
	a.SetPools([]ipam.Pool{{Name: "p", AutoAssign: true, Ranges: []ipam.Range{mustRange(t, "192.0.2.0/30"), mustRange(t, "2001:db8::/120")}}})
	res, err := a.Allocate(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.IPs; len(got) != 2 || got[0].String() != "192.0.2.0" || got[1].String() != "2001:db8::7" {
		t.Fatalf("allocated %v", got)
	}
}

func mustRange(t *testing.T, s string) ipam.Range {
	t.Helper()
	r, err := ipam.ParseRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
