package reach

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	vip  = netip.MustParseAddr("203.0.113.10")
	vip6 = netip.MustParseAddr("2001:db8::10")
	web  = types.NamespacedName{Namespace: "default", Name: "web"}
	dns  = types.NamespacedName{Namespace: "default", Name: "dns"}
)

func tcp(n int32) corev1.ServicePort {
	return corev1.ServicePort{Protocol: corev1.ProtocolTCP, Port: n}
}
func udp(n int32) corev1.ServicePort {
	return corev1.ServicePort{Protocol: corev1.ProtocolUDP, Port: n}
}
func at(ip netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(ip, port) }

func TestChecks(t *testing.T) {
	ports := map[types.NamespacedName][]corev1.ServicePort{
		web: {tcp(443), tcp(80), {Port: 8080}, udp(53)},
		dns: {udp(53), tcp(53), tcp(80)},
	}
	tests := []struct {
		name    string
		targets []Target
		want    []netip.AddrPort
	}{
		{"nothing announced", nil, nil},
		{"TCP ports only, sorted; an empty protocol is TCP",
			[]Target{{IP: vip, Services: []types.NamespacedName{web}}},
			[]netip.AddrPort{at(vip, 80), at(vip, 443), at(vip, 8080)}},
		{"a shared address is probed once per port",
			[]Target{{IP: vip, Services: []types.NamespacedName{web, dns}}},
			[]netip.AddrPort{at(vip, 53), at(vip, 80), at(vip, 443), at(vip, 8080)}},
		{"each address of a dual-stack Service",
			[]Target{{IP: vip6, Services: []types.NamespacedName{dns}}, {IP: vip, Services: []types.NamespacedName{dns}}},
			[]netip.AddrPort{at(vip, 53), at(vip, 80), at(vip6, 53), at(vip6, 80)}},
		{"a Service skipped on this address (source ranges) is not probed; others on it are",
			[]Target{{IP: vip, Services: []types.NamespacedName{web, dns}, Skip: map[types.NamespacedName]string{web: "loadBalancerSourceRanges"}}},
			[]netip.AddrPort{at(vip, 53), at(vip, 80)}},
		{"a Service whose ports are unknown (gone) is skipped",
			[]Target{{IP: vip, Services: []types.NamespacedName{{Namespace: "x", Name: "gone"}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checks(tt.targets, ports); !slices.Equal(got, tt.want) {
				t.Fatalf("Checks = %v, want %v", got, tt.want)
			}
		})
	}
}

type judgeCase struct {
	name     string
	conflict string
	skip     string
	ports    []corev1.ServicePort
	results  map[netip.AddrPort]PortResult
	status   metav1.ConditionStatus
	reason   string
	message  string
	metric   map[string]float64
}

func TestJudge(t *testing.T) {
	ok := PortResult{Answered: true}
	refusedOnce := PortResult{Answered: true, Failures: 1, Err: "connection refused"}
	refused := PortResult{Answered: true, Failures: 2, Err: "connection refused"}
	neverUp := PortResult{Failures: 3, Err: "no answer (timed out)"}
	tests := []judgeCase{
		{"every TCP port answers", "", "", []corev1.ServicePort{tcp(80), tcp(443)},
			map[netip.AddrPort]PortResult{at(vip, 80): ok, at(vip, 443): ok},
			"True", ReasonAnswering, "203.0.113.10 answers on tcp/80, tcp/443",
			map[string]float64{"tcp/80": 1, "tcp/443": 1}},
		{"UDP ports are named as not checked", "", "", []corev1.ServicePort{tcp(80), udp(53)},
			map[netip.AddrPort]PortResult{at(vip, 80): ok},
			"True", ReasonAnswering, "203.0.113.10 answers on tcp/80 (not checked: udp/53)",
			map[string]float64{"tcp/80": 1}},
		{"one failure is not enough", "", "", []corev1.ServicePort{tcp(80)},
			map[netip.AddrPort]PortResult{at(vip, 80): refusedOnce},
			"True", ReasonAnswering, "203.0.113.10 answers on tcp/80", map[string]float64{"tcp/80": 1}},
		{"failures in a row: not answering, naming the port and why", "", "", []corev1.ServicePort{tcp(80), tcp(443), udp(53)},
			map[netip.AddrPort]PortResult{at(vip, 80): refused, at(vip, 443): ok},
			"False", ReasonNotAnswering,
			"203.0.113.10 does not answer through the announcing node's datapath on tcp/80: connection refused (not checked: udp/53)",
			map[string]float64{"tcp/80": 0, "tcp/443": 1}},
		{"a port that never answered", "", "", []corev1.ServicePort{tcp(80)},
			map[netip.AddrPort]PortResult{at(vip, 80): neverUp},
			"False", ReasonNotAnswering, "203.0.113.10 does not answer through the announcing node's datapath on tcp/80: no answer (timed out)",
			map[string]float64{"tcp/80": 0}},
		{"not probed yet", "", "", []corev1.ServicePort{tcp(80)}, nil,
			"Unknown", ReasonNotChecked, "203.0.113.10 not checked yet on tcp/80", map[string]float64{}},
		{"first probe failed, no verdict yet", "", "", []corev1.ServicePort{tcp(80)},
			map[netip.AddrPort]PortResult{at(vip, 80): {Failures: 1, Err: "connection refused"}},
			"Unknown", ReasonNotChecked, "203.0.113.10 not checked yet on tcp/80", map[string]float64{}},
		{"no route to the address on this node: not checked, not failing", "", "", []corev1.ServicePort{tcp(80)},
			map[netip.AddrPort]PortResult{at(vip, 80): PortResult{}.Record(ErrNoRoute).Record(ErrNoRoute)},
			"Unknown", ReasonNotChecked, "203.0.113.10 has no port this node can check (not checked: tcp/80 (no route to it on this node))", map[string]float64{}},
		{"UDP only", "", "", []corev1.ServicePort{udp(53)}, nil,
			"Unknown", ReasonNotChecked, "203.0.113.10 has no port this node can check (not checked: udp/53)", map[string]float64{}},
		{"another host answers ARP: not answering whatever the datapath says", "02:00:00:00:00:99", "", []corev1.ServicePort{tcp(80)},
			map[netip.AddrPort]PortResult{at(vip, 80): ok},
			"False", ReasonAddressConflict, "another host (MAC 02:00:00:00:00:99) answers ARP/NDP for 203.0.113.10, so clients may reach it instead of this cluster",
			map[string]float64{"tcp/80": 0}},
	}
	tests = append(tests, judgeCase{"source ranges: TCP ports named as not checked, with why, whatever old results say", "", "loadBalancerSourceRanges", []corev1.ServicePort{tcp(80), udp(53)},
		map[netip.AddrPort]PortResult{at(vip, 80): refused},
		"Unknown", ReasonNotChecked, "203.0.113.10 has no port this node can check (not checked: tcp/80 (loadBalancerSourceRanges), udp/53)", map[string]float64{}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(vip, tt.conflict, tt.ports, tt.skip, tt.results, 2)
			if v.Status != tt.status || v.Reason != tt.reason || v.Message != tt.message {
				t.Fatalf("Judge = %s %s %q, want %s %s %q", v.Status, v.Reason, v.Message, tt.status, tt.reason, tt.message)
			}
			if v.Pending != strings.Contains(tt.message, "not checked yet") {
				t.Fatalf("Pending %v for %q", v.Pending, v.Message)
			}
			if fmt.Sprint(v.Ports) != fmt.Sprint(tt.metric) {
				t.Fatalf("ports %v, want %v", v.Ports, tt.metric)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	var r PortResult
	r = r.Record(syscall.ECONNREFUSED)
	if r.Answered || r.Failures != 1 || r.Err != "connection refused" {
		t.Fatalf("after a failure: %+v", r)
	}
	r = r.Record(nil)
	if r != (PortResult{Answered: true}) {
		t.Fatalf("after a success: %+v", r)
	}
	r = r.Record(os.ErrDeadlineExceeded).Record(os.ErrDeadlineExceeded)
	if !r.Answered || r.Failures != 2 || r.Err != "no answer (timed out)" {
		t.Fatalf("after two timeouts: %+v", r)
	}
}

func TestDescribe(t *testing.T) {
	// Real errors from the kernel: a closed port on loopback, and a
	// connection that cannot finish in time.
	var d net.Dialer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := d.DialContext(context.Background(), "tcp", closed)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, timedOut := d.DialContext(ctx, "tcp", "192.0.2.1:80")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{refused, "connection refused"},
		{timedOut, "no answer (timed out)"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, syscall.EHOSTUNREACH.Error()},
		{fmt.Errorf("odd"), "connection failed"},
	} {
		if got := Describe(tt.err); got != tt.want {
			t.Errorf("Describe(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCondition(t *testing.T) {
	t1 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t2 := metav1.NewTime(t1.Add(90*time.Second + 300*time.Millisecond))
	other := metav1.Condition{Type: "Other", Status: "True", Reason: "X", LastTransitionTime: t1}
	up := Verdict{Status: "True", Reason: ReasonAnswering, Message: "up"}
	down := Verdict{Status: "False", Reason: ReasonNotAnswering, Message: "down"}

	first := Condition([]metav1.Condition{other}, up, t1)
	if len(first) != 2 || first[0] != other || first[1].Status != "True" || !first[1].LastTransitionTime.Equal(&t1) {
		t.Fatalf("first: %+v", first)
	}
	same := Condition(first, Verdict{Status: "True", Reason: ReasonAnswering, Message: "up, reworded"}, t2)
	if !same[1].LastTransitionTime.Equal(&t1) || same[1].Message != "up, reworded" {
		t.Fatalf("same status: %+v, want the first transition time kept and the new message", same[1])
	}
	flipped := Condition(same, down, t2)
	want := metav1.NewTime(t2.Truncate(time.Second))
	if flipped[1].Status != "False" || !flipped[1].LastTransitionTime.Equal(&want) || len(flipped) != 2 {
		t.Fatalf("flipped: %+v, want False since %v", flipped, want)
	}
}

func TestPeriod(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{0, 2 * time.Second}, {200, 2 * time.Second}, {1000, 10 * time.Second}, {10000, 100 * time.Second}} {
		if got := Period(2*time.Second, tt.n); got != tt.want {
			t.Errorf("Period(2s, %d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestSkipReason(t *testing.T) {
	svc := func(ranges []string, ann string) *corev1.Service {
		s := &corev1.Service{Spec: corev1.ServiceSpec{LoadBalancerSourceRanges: ranges}}
		if ann != "" {
			s.Annotations = map[string]string{"service.beta.kubernetes.io/load-balancer-source-ranges": ann}
		}
		return s
	}
	for _, tt := range []struct {
		name string
		svc  *corev1.Service
		ip   netip.Addr
		want string
	}{
		{"no ranges", svc(nil, ""), vip, ""},
		{"field restricts", svc([]string{"192.0.2.0/24"}, ""), vip, "loadBalancerSourceRanges"},
		{"annotation restricts", svc(nil, "192.0.2.0/24"), vip, "loadBalancerSourceRanges"},
		{"everyone of the family", svc([]string{"0.0.0.0/0", "2001:db8::/32"}, ""), vip, ""},
		{"the other family restricted", svc([]string{"0.0.0.0/0", "2001:db8::/32"}, ""), vip6, "loadBalancerSourceRanges"},
	} {
		if got := SkipReason(tt.svc, tt.ip); got != tt.want {
			t.Errorf("%s: SkipReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}
