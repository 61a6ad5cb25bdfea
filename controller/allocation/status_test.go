package allocation

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

func svcWith(pool string, ingress ...corev1.LoadBalancerIngress) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	if pool != "" {
		s.Annotations = map[string]string{svcrequest.AnnotationIPAllocatedFromPool: pool}
	}
	s.Status.LoadBalancer.Ingress = ingress
	return s
}

func TestStatusUpToDate(t *testing.T) {
	v4 := netip.MustParseAddr("203.0.113.10")
	v6 := netip.MustParseAddr("2001:db8:300::10")
	res := ipam.Result{Pool: "lab", IPs: []netip.Addr{v4, v6}}
	vip, proxy := corev1.LoadBalancerIPModeVIP, corev1.LoadBalancerIPModeProxy

	tests := []struct {
		name string
		svc  *corev1.Service
		res  ipam.Result
		mode corev1.LoadBalancerIPMode
		want bool
	}{
		{"same, ipMode written", svcWith("lab", corev1.LoadBalancerIngress{IP: v4.String(), IPMode: &vip}, corev1.LoadBalancerIngress{IP: v6.String(), IPMode: &vip}), res, vip, true},
		{"same, ipMode absent counts as VIP", svcWith("lab", corev1.LoadBalancerIngress{IP: v4.String()}, corev1.LoadBalancerIngress{IP: v6.String()}), res, vip, true},
		{"ipMode absent is not Proxy", svcWith("lab", corev1.LoadBalancerIngress{IP: v4.String()}, corev1.LoadBalancerIngress{IP: v6.String()}), res, proxy, false},
		{"order matters: primary family first", svcWith("lab", corev1.LoadBalancerIngress{IP: v6.String()}, corev1.LoadBalancerIngress{IP: v4.String()}), res, vip, false},
		{"pool annotation missing", svcWith("", corev1.LoadBalancerIngress{IP: v4.String()}, corev1.LoadBalancerIngress{IP: v6.String()}), res, vip, false},
		{"pool annotation differs", svcWith("other", corev1.LoadBalancerIngress{IP: v4.String()}, corev1.LoadBalancerIngress{IP: v6.String()}), res, vip, false},
		{"one address missing", svcWith("lab", corev1.LoadBalancerIngress{IP: v4.String()}), res, vip, false},
		{"hostname entry is foreign", svcWith("lab", corev1.LoadBalancerIngress{IP: v4.String(), Hostname: "x"}, corev1.LoadBalancerIngress{IP: v6.String()}), res, vip, false},
		{"nothing held, nothing shown", svcWith(""), ipam.Result{}, vip, true},
		{"nothing held, address shown", svcWith("", corev1.LoadBalancerIngress{IP: v4.String()}), ipam.Result{}, vip, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusUpToDate(tt.svc, tt.res, tt.mode); got != tt.want {
				t.Fatalf("statusUpToDate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWithStatusRoundTrip(t *testing.T) {
	res := ipam.Result{Pool: "lab", IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}
	orig := svcWith("")
	out := withStatus(orig, res, corev1.LoadBalancerIPModeVIP)
	if !statusUpToDate(out, res, corev1.LoadBalancerIPModeVIP) {
		t.Fatalf("withStatus result is not up to date: %+v", out.Status)
	}
	if len(orig.Status.LoadBalancer.Ingress) != 0 || orig.Annotations != nil {
		t.Fatal("withStatus modified its input")
	}
	cleared := withStatus(out, ipam.Result{}, corev1.LoadBalancerIPModeVIP)
	if len(cleared.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("cleared status still has ingress %v", cleared.Status.LoadBalancer.Ingress)
	}
	if _, ok := cleared.Annotations[svcrequest.AnnotationIPAllocatedFromPool]; ok {
		t.Fatal("cleared status keeps the pool annotation")
	}
}

func TestStatusIPsSkipsHostnamesAndGarbage(t *testing.T) {
	s := svcWith("", corev1.LoadBalancerIngress{Hostname: "lb.example"}, corev1.LoadBalancerIngress{IP: "not-an-ip"}, corev1.LoadBalancerIngress{IP: "198.51.100.3"})
	got := StatusIPs(s)
	if len(got) != 1 || got[0] != netip.MustParseAddr("198.51.100.3") {
		t.Fatalf("StatusIPs = %v", got)
	}
}
