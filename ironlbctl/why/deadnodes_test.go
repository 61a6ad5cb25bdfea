package why

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/pkg/presence"
)

// speakersLease is the presence Lease as the status writer leaves it,
// renewed at renewed, with the dead-nodes annotation (none when "").
func speakersLease(dead string, renewed time.Time) change {
	return func(s *snapshot.Snapshot) {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "ironlb-system", Name: presence.LeaseName}}
		if dead != "" {
			l.Annotations = map[string]string{presence.DeadNodesAnnotation: dead}
		}
		l.Spec.RenewTime = &metav1.MicroTime{Time: renewed}
		l.Spec.LeaseDurationSeconds = ptr.To[int32](1)
		s.Speakers = l
	}
}

// podsOn is an EndpointSlice of Service web with one ready endpoint per
// node (192.0.2.101, ...), port 80 as the Service's.
func podsOn(nodes ...string) change {
	sl := discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-pods", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)}},
	}
	for i, n := range nodes {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("192.0.2.%d", 101+i)}, NodeName: ptr.To(n),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return eps(sl)
}

func TestExplainEndpointsSetAside(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	web := func(opts ...fx.SvcOpt) change {
		return svcs(fx.Service("default", "web", 10, append([]fx.SvcOpt{fx.Assigned("web", "203.0.113.1")}, opts...)...))
	}
	announced := l2(fx.L2Status("default", "web", "203.0.113.1", "n1", ""))
	const deadN2 = "n2=2026-12-06T08:40:01.000Z"
	tests := []struct {
		name    string
		changes []change
		code    Code     // the reason expected besides Announced; "" for none
		want    []string // substrings of its message and details
	}{
		{"no Lease", []change{web(), podsOn("n1", "n2"), announced}, "", nil},
		{"no node held dead", []change{web(), podsOn("n1", "n2"), announced, speakersLease("", now)}, "", nil},
		{"the endpoint on the dead node", []change{web(), podsOn("n1", "n2"), announced, speakersLease(deadN2, now)},
			EndpointsSetAside, []string{"1 endpoint(s) of Service default/web", "Lease ironlb-system/ironlb-speakers, annotation ironlb.io/dead-nodes",
				"192.0.2.102:80: set aside: node n2's speaker is held dead since 2026-12-06T08:40:01Z"}},
		{"only the dead node has endpoints: they serve", []change{web(), podsOn("n2"), announced, speakersLease(deadN2, now)}, "", nil},
		{"Local policy: other nodes' endpoints are never used", []change{web(fx.Local), podsOn("n1", "n2"), announced, speakersLease(deadN2, now)}, "", nil},
		{"a Lease no speaker renews", []change{web(), podsOn("n1", "n2"), announced, speakersLease(deadN2, now.Add(-time.Minute))},
			EndpointsSetAside, []string{"last renewed 1m0s ago", "192.0.2.102:80: set aside"}},
		{"a malformed annotation", []change{web(), podsOn("n1", "n2"), announced, speakersLease("n2=yesterday", now)},
			DeadNodesUnreadable, []string{"Lease ironlb-system/ironlb-speakers", "ironlb.io/dead-nodes", `"n2=yesterday"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			for _, c := range tt.changes {
				c(s)
			}
			rs := Explain(s, "default", "web", Options{Now: now})
			if rs[0].Code != Announced {
				t.Fatalf("first reason %s: %s", rs[0].Code, rs[0].Message)
			}
			i := slices.IndexFunc(rs, func(r Reason) bool { return r.Code == EndpointsSetAside || r.Code == DeadNodesUnreadable })
			if tt.code == "" {
				if i >= 0 {
					t.Fatalf("unexpected %s: %s %v", rs[i].Code, rs[i].Message, rs[i].Details)
				}
				return
			}
			if i < 0 || rs[i].Code != tt.code {
				t.Fatalf("reasons %+v, want one %s", rs, tt.code)
			}
			text := rs[i].Message + "\n" + strings.Join(rs[i].Details, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q missing from:\n%s", w, text)
				}
			}
			if ok := rs[i].OK(); ok != (tt.code == EndpointsSetAside) {
				t.Errorf("%s: OK() = %v", tt.code, ok)
			}
		})
	}
}
