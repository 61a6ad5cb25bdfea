package badinput_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/speaker/l2sync"
)

// snapshot is everything the valid objects do, each item as key -> a
// canonical text, so that two snapshots compare item by item.
type snapshot map[string]string

// world is what the snapshot is taken from.
type world struct {
	c        *cluster.Cluster
	r        *frr.Router
	valid    []*unstructured.Unstructured // the valid configuration objects
	services []string                     // the valid Services, in namespace default
}

// take reads, in one pass: the valid Services' IPs (allocation), the
// ServiceL2Status of each layer 2 IP (announcer), FRR's paths for each
// BGP IP with their communities (announcements), FRR's sessions with the
// nodes and their connection counters, every BGPSessionStatus of the
// valid peers (state, establishedSince, prefix count), and the Valid
// condition of every valid object.
func (w *world) take(ctx context.Context) (snapshot, error) {
	s := snapshot{}
	for _, name := range w.services {
		ips, err := w.serviceIPs(ctx, name)
		if err != nil {
			return nil, err
		}
		s["service "+name] = fmt.Sprint(ips)
		for _, ip := range ips {
			if strings.HasSuffix(name, "-l2") {
				var st v1beta1.ServiceL2Status
				key := client.ObjectKey{Namespace: "default", Name: l2sync.StatusName(name, ip)}
				if err := w.c.Client.Get(ctx, key, &st); err != nil {
					return nil, err
				}
				s["l2 "+ip.String()] = fmt.Sprintf("node=%s reason=%s", st.Status.Node, st.Status.Reason)
				continue
			}
			route, ok, err := w.r.Route(ctx, netip.PrefixFrom(ip, ip.BitLen()))
			if err != nil {
				return nil, err
			}
			s["route "+ip.String()] = routeText(route, ok)
		}
	}
	neighbors, err := w.r.Neighbors(ctx)
	if err != nil {
		return nil, err
	}
	for addr, n := range neighbors {
		s["frr neighbor "+addr.String()] = fmt.Sprintf("%s established=%d dropped=%d", n.State, n.ConnectionsEstablished, n.ConnectionsDropped)
	}
	var sessions v1beta1.BGPSessionStatusList
	if err := w.c.Client.List(ctx, &sessions); err != nil {
		return nil, err
	}
	for _, st := range sessions.Items {
		if st.Status.Peer != "tor" && st.Status.Peer != "tor-v6" {
			continue // a session of a bad peer that is partly in force
		}
		since := "never"
		if st.Status.EstablishedSince != nil {
			since = st.Status.EstablishedSince.UTC().String()
		}
		s["session "+st.Name] = fmt.Sprintf("%s since=%s prefixes=%d", st.Status.State, since, st.Status.PrefixesAdvertised)
	}
	for _, v := range w.valid {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(v.GroupVersionKind())
		if err := w.c.Client.Get(ctx, client.ObjectKey{Name: v.GetName()}, o); err != nil {
			return nil, err
		}
		s["valid "+v.GetKind()+" "+v.GetName()] = validCondition(o)
	}
	return s, nil
}

func (w *world) serviceIPs(ctx context.Context, name string) ([]netip.Addr, error) {
	var svc corev1.Service
	if err := w.c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &svc); err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		ip, err := netip.ParseAddr(in.IP)
		if err != nil {
			return nil, fmt.Errorf("service %s: ingress %q: %w", name, in.IP, err)
		}
		out = append(out, ip)
	}
	return out, nil
}

func routeText(r frr.Route, ok bool) string {
	if !ok {
		return "no route"
	}
	var paths []string
	for _, p := range r.Paths {
		if p.Selected() {
			paths = append(paths, fmt.Sprintf("%s %v %v", p.NextHop, p.Communities, p.LargeCommunities))
		}
	}
	slices.Sort(paths)
	return strings.Join(paths, "; ")
}

// validCondition is "status reason" of an object's Valid condition.
func validCondition(o *unstructured.Unstructured) string {
	cond := conditionOf(o, v1beta1.ConditionValid)
	if cond == nil {
		return "no Valid condition"
	}
	return string(cond.Status)
}

// diff lists the items of want that differ in got.
func diff(want, got snapshot) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			g, ok := got[k]
			if !ok {
				g = "(gone)"
			}
			out = append(out, fmt.Sprintf("%s: %q became %q", k, want[k], g))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: new %q", k, got[k]))
		}
	}
	return out
}

// conditionOf finds a condition in an object read as unstructured.
func conditionOf(o *unstructured.Unstructured, typ string) *metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err == nil {
			conds = append(conds, c)
		}
	}
	return meta.FindStatusCondition(conds, typ)
}
