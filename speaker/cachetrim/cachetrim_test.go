package cachetrim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
	"github.com/ironlb/ironlb/speaker/healthcheck"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/sliceindex"
	"github.com/ironlb/ironlb/speaker/view"
)

// readings is everything the speaker's readers compute from Services,
// EndpointSlices and Nodes.
type readings struct {
	View      view.Changes // lbstate.Condense and l2plan.NodeFrom, through the view
	Condensed []lbstate.Service
	Usable    map[types.NamespacedName]readiness.NodeCounts
	Owner     map[string]types.NamespacedName // sliceindex: slice -> Service
	Datapath  map[string]datapath.State       // by node/zone seen from
	SetAside  map[string][]datapath.SetAside
	Health    map[string]map[uint16]healthcheck.Entry // by node
	HealthBad map[string][]datapath.Problem
	Nodes     []l2plan.Node
	Addresses map[string][]corev1.NodeAddress // the peer list's input
	Zone      map[string]string               // dpsync's zone
}

func read(svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice, ns []*corev1.Node) readings {
	r := readings{
		Usable: map[types.NamespacedName]readiness.NodeCounts{}, Owner: map[string]types.NamespacedName{},
		Datapath: map[string]datapath.State{}, SetAside: map[string][]datapath.SetAside{},
		Health: map[string]map[uint16]healthcheck.Entry{}, HealthBad: map[string][]datapath.Problem{},
		Addresses: map[string][]corev1.NodeAddress{}, Zone: map[string]string{},
	}
	v := view.New()
	c := v.Consumer(func() {})
	for _, s := range svcs {
		v.SetService(s)
	}
	for _, sl := range eps {
		v.SetSlice(sl)
	}
	for _, n := range ns {
		v.SetNode(n)
	}
	r.View = v.Changes(c)
	r.Condensed = lbstate.Build(svcs, eps)
	for _, s := range svcs {
		r.Usable[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = readiness.UsableByNode(s.Spec.Ports, eps)
	}
	for _, sl := range eps {
		r.Owner[sl.Name], _ = sliceindex.ServiceOf(sl)
	}
	for _, n := range ns {
		r.Nodes = append(r.Nodes, l2plan.NodeFrom(n))
		r.Addresses[n.Name] = n.Status.Addresses
		r.Zone[n.Name] = n.Labels[corev1.LabelTopologyZone]
		for _, zone := range []string{"a", "b", ""} {
			in := datapath.Inputs{Node: n.Name, Zone: zone, Services: svcs, EndpointSlices: eps, DeadNodes: map[string]bool{"n2": true}}
			r.Datapath[n.Name+"/"+zone] = datapath.Desired(in)
			r.SetAside[n.Name+"/"+zone] = datapath.SetAsideOnDeadNodes(in)
		}
		r.Health[n.Name], r.HealthBad[n.Name] = healthcheck.Desired(svcs, eps, n.Name)
	}
	return r
}

func trimAll[T any](t *testing.T, objs []T, f func(any) (any, error)) []T {
	t.Helper()
	out := make([]T, len(objs))
	for i, o := range objs {
		got, err := f(o)
		if err != nil {
			t.Fatalf("transform %T: %v", o, err)
		}
		out[i] = got.(T)
	}
	return out
}

// TestReadersSeeTheSame runs every reader of the speaker's cache on the
// objects as the API server sends them and as the cache keeps them: the
// answers must not differ.
func TestReadersSeeTheSame(t *testing.T) {
	want := read(services(), endpointSlices(), nodes())
	// Trimmed as the cache gets them: decoded from the API server's
	// protobuf, with the decoder's spare room in their slices.
	got := read(trimAll(t, decodeAll(t, services()), NewServices().Transform), trimAll(t, decodeAll(t, endpointSlices()), NewSlices().Transform),
		trimAll(t, decodeAll(t, nodes()), Node))
	// reflect, not cmp: the datapath's types have unexported fields.
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range wv.NumField() {
		if w, g := wv.Field(i).Interface(), gv.Field(i).Interface(); !reflect.DeepEqual(w, g) {
			t.Errorf("%s differs on trimmed objects:\nfull:    %+v\ntrimmed: %+v", wv.Type().Field(i).Name, w, g)
		}
	}

	// The fixtures must make each kept field matter.
	dp := want.Datapath["n1/a"]
	if len(dp.Services) == 0 || len(want.Health["n1"]) != 1 || len(want.Condensed) != 2 || len(want.View.Services) != 2 {
		t.Fatalf("fixtures exercise too little: %d virtual services, health ports %v, %d condensed, %d in the view",
			len(dp.Services), want.Health["n1"], len(want.Condensed), len(want.View.Services))
	}
	// n1 has node hints, n3 none: zone hints decide there.
	if reflect.DeepEqual(want.Datapath["n3/a"], want.Datapath["n3/b"]) {
		t.Errorf("zone hints change nothing in the fixtures")
	}
	if reflect.DeepEqual(want.Datapath["n1/a"], want.Datapath["n3/a"]) {
		t.Errorf("node hints change nothing in the fixtures")
	}
	usable := 0
	for _, n := range want.Nodes {
		if n.Usable {
			usable++
		}
	}
	if usable != 1 || want.Nodes[0].Weight != 3 || !want.Nodes[1].Cordoned {
		t.Errorf("node fixtures: want one usable node of weight 3 and a cordoned one, got %+v", want.Nodes)
	}
}

// decodeAll round-trips objects through protobuf, as the API server sends
// them and the informer decodes them.
func decodeAll[T wire](t *testing.T, objs []T) []T {
	t.Helper()
	out := make([]T, len(objs))
	for i, o := range objs {
		data, err := o.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n := reflect.New(reflect.TypeOf(o).Elem()).Interface().(T)
		if err := n.Unmarshal(data); err != nil {
			t.Fatal(err)
		}
		out[i] = n
	}
	return out
}

// TestEndpointsCompacted: a decoded slice's endpoints, in an array with
// room to spare, are kept in one of their length, unchanged.
func TestEndpointsCompacted(t *testing.T) {
	in := decodeAll(t, []*discoveryv1.EndpointSlice{largeSlice()})[0]
	if cap(in.Endpoints) <= len(in.Endpoints) {
		t.Fatalf("the decoder left no spare room (%d of %d): the test shows nothing", len(in.Endpoints), cap(in.Endpoints))
	}
	want := in.DeepCopy()
	got, err := NewSlices().Transform(in)
	if err != nil {
		t.Fatal(err)
	}
	sl := got.(*discoveryv1.EndpointSlice)
	if len(sl.Endpoints) != 10 || cap(sl.Endpoints) != 10 {
		t.Errorf("trimmed endpoints: %d in an array of %d, want 10 in 10", len(sl.Endpoints), cap(sl.Endpoints))
	}
	for i := range want.Endpoints {
		e := &want.Endpoints[i]
		e.TargetRef, e.Hostname, e.Zone, e.DeprecatedTopology = nil, nil, nil, nil
	}
	if d := cmp.Diff(want.Endpoints, sl.Endpoints); d != "" {
		t.Errorf("compacted endpoints differ (-want +got):\n%s", d)
	}
}

// TestTrimmed pins what each transform keeps and drops, and that it is
// idempotent (client-go may hand it an object it already transformed) and
// passes other kinds through.
func TestTrimmed(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		f    func(any) (any, error)
		want any
	}{{
		name: "service", in: services()[0], f: NewServices().Transform,
		want: func() *corev1.Service {
			s := services()[0]
			s.ManagedFields, s.Spec.Selector, s.Status.Conditions = nil, nil, nil
			delete(s.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
			delete(s.Annotations, "metallb.io/address-pool")
			return s
		}(),
	}, {
		name: "service with no annotation kept", in: services()[1], f: NewServices().Transform,
		want: func() *corev1.Service {
			s := services()[1]
			s.ManagedFields, s.Spec.Selector = nil, nil
			s.Annotations = map[string]string{"ironlb.io/ip-allocated-from-pool": "bgp"}
			return s
		}(),
	}, {
		name: "endpointslice", in: endpointSlices()[0], f: NewSlices().Transform,
		want: func() *discoveryv1.EndpointSlice {
			sl := endpointSlices()[0]
			sl.ManagedFields, sl.Annotations, sl.OwnerReferences = nil, nil, nil
			sl.Labels = map[string]string{discoveryv1.LabelServiceName: "web"}
			for i := range sl.Endpoints {
				e := &sl.Endpoints[i]
				e.TargetRef, e.Hostname, e.Zone, e.DeprecatedTopology = nil, nil, nil, nil
			}
			for i := range sl.Ports {
				sl.Ports[i].AppProtocol = nil
			}
			return sl
		}(),
	}, {
		name: "endpointslice of no service", in: endpointSlices()[3], f: NewSlices().Transform,
		want: func() *discoveryv1.EndpointSlice {
			sl := endpointSlices()[3]
			sl.ManagedFields, sl.Annotations, sl.OwnerReferences = nil, nil, nil
			sl.Labels = map[string]string{discoveryv1.LabelServiceName: ""}
			for i := range sl.Endpoints {
				e := &sl.Endpoints[i]
				e.TargetRef, e.Hostname, e.Zone, e.DeprecatedTopology = nil, nil, nil, nil
			}
			sl.Ports[0].AppProtocol = nil
			return sl
		}(),
	}, {
		name: "node", in: nodes()[1], f: Node,
		want: &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: "n2", UID: "uid-n2", ResourceVersion: "31", CreationTimestamp: created,
				Labels:      map[string]string{"kubernetes.io/hostname": "n2", corev1.LabelTopologyZone: "b", "rack": "r1"},
				Annotations: map[string]string{l2plan.AnnotationWeight: "3"},
			},
			Spec: corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{
				Addresses: nodes()[1].Status.Addresses,
				Conditions: []corev1.NodeCondition{
					{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "RouteCreated"},
					{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
				},
			},
		},
	}, {
		name: "other kind", in: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed()}}, f: Node,
		want: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed()}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("trimmed (-want +got):\n%s", d)
			}
			again, err := tc.f(got)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, again); d != "" {
				t.Errorf("trimmed twice (-want +got):\n%s", d)
			}
		})
	}
}

// The other kinds lose their managed fields only.
func TestStripManagedFields(t *testing.T) {
	in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed(), Annotations: map[string]string{"a": "b"}}}
	got, err := StripManagedFields()(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{"a": "b"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestNodeNamesShared: the endpoints on one node, in any slice, end with
// one pointer to one name; endpoints on other nodes keep theirs.
func TestNodeNamesShared(t *testing.T) {
	tr := NewSlices()
	var names = map[string]*string{}
	for _, in := range decodeAll(t, []*discoveryv1.EndpointSlice{largeSlice(), largeSlice(), endpointSlices()[0]}) {
		got, err := tr.Transform(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range got.(*discoveryv1.EndpointSlice).Endpoints {
			if ep.NodeName == nil {
				continue
			}
			if p, ok := names[*ep.NodeName]; ok && p != ep.NodeName {
				t.Errorf("node %s: two copies of its name", *ep.NodeName)
			}
			names[*ep.NodeName] = ep.NodeName
		}
	}
	if len(names) < 2 {
		t.Fatalf("the fixtures name %d nodes: the test shows nothing", len(names))
	}
}

// TestAnnotationsShared: Services whose kept annotations are equal end
// with one map of them; others keep their own.
func TestAnnotationsShared(t *testing.T) {
	tr := NewServices()
	mk := func(name string, ann map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
	}
	trim := func(s *corev1.Service) map[string]string {
		got, err := tr.Transform(s)
		if err != nil {
			t.Fatal(err)
		}
		return got.(*corev1.Service).Annotations
	}
	pool := func(p string) map[string]string {
		return map[string]string{"ironlb.io/ip-allocated-from-pool": p, "example.com/other": "dropped"}
	}
	same := func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	a, b, c := trim(mk("a", pool("l2"))), trim(mk("b", pool("l2"))), trim(mk("c", pool("bgp")))
	if !same(a, b) {
		t.Error("two Services of one pool: two maps of the same annotations")
	}
	if same(a, c) || c["ironlb.io/ip-allocated-from-pool"] != "bgp" {
		t.Errorf("Services of two pools share %v", c)
	}
	// Keys and values that run together differently are different.
	d := trim(mk("d", map[string]string{"ironlb.io/a": "bc"}))
	e := trim(mk("e", map[string]string{"ironlb.io/ab": "c"}))
	if same(d, e) {
		t.Errorf("%v and %v share a map", d, e)
	}
	if trim(mk("f", map[string]string{"example.com/other": "x"})) != nil {
		t.Error("no annotation kept: want nil")
	}
}

// A shared hands out the first value given for a key, until it holds
// maxShared keys: then it starts afresh.
func TestSharedStartsAfreshPastItsBound(t *testing.T) {
	var s shared[int]
	if got := s.of("a", 1); got != 1 {
		t.Fatalf("first value of a: %d, want 1", got)
	}
	if got := s.of("a", 2); got != 1 {
		t.Fatalf("a again: %d, want the first value, 1", got)
	}
	for i := range maxShared - 1 {
		s.of(fmt.Sprint("k", i), i)
	}
	if got := s.of("a", 3); got != 1 {
		t.Fatalf("a at the bound: %d, want 1", got)
	}
	s.of("one too many", 0)
	if got := s.of("a", 4); got != 4 {
		t.Fatalf("a after the bound was passed: %d, want the new value, 4", got)
	}
}

// TestHintsShared: endpoints whose topology hints are equal, in any
// slice, end with one pointer to them; different hints keep their own,
// also when the same names move between zones and nodes.
func TestHintsShared(t *testing.T) {
	hinted := func(zones, nodes []string) discoveryv1.Endpoint {
		ep := endpoint("198.51.100.9", "n1", true, true, false)
		ep.Hints = &discoveryv1.EndpointHints{}
		for _, z := range zones {
			ep.Hints.ForZones = append(ep.Hints.ForZones, discoveryv1.ForZone{Name: z})
		}
		for _, n := range nodes {
			ep.Hints.ForNodes = append(ep.Hints.ForNodes, discoveryv1.ForNode{Name: n})
		}
		return ep
	}
	ports := []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 8080)}
	tr := NewSlices()
	var got [][]*discoveryv1.EndpointHints
	for _, in := range decodeAll(t, []*discoveryv1.EndpointSlice{
		slice("a", "web", ports, hinted([]string{"z1"}, []string{"n1"}), hinted([]string{"z1"}, []string{"n1"}), hinted([]string{"z1", "z2"}, nil)),
		slice("b", "api", ports, hinted([]string{"z1"}, []string{"n1"}), hinted(nil, []string{"z1"}), hinted([]string{"z1z2"}, nil), hinted([]string{"z1"}, nil)),
	}) {
		out, err := tr.Transform(in)
		if err != nil {
			t.Fatal(err)
		}
		var hs []*discoveryv1.EndpointHints
		for _, ep := range out.(*discoveryv1.EndpointSlice).Endpoints {
			hs = append(hs, ep.Hints)
		}
		got = append(got, hs)
	}
	if got[0][0] != got[0][1] || got[0][0] != got[1][0] {
		t.Errorf("zone z1 and node n1 in three endpoints of two slices: %p %p %p, want one", got[0][0], got[0][1], got[1][0])
	}
	distinct := []*discoveryv1.EndpointHints{got[0][0], got[0][2], got[1][1], got[1][2], got[1][3]}
	for i := range distinct {
		for j := range i {
			if distinct[i] == distinct[j] {
				t.Errorf("hints %s and %s share one pointer", hintsKey(distinct[j]), hintsKey(distinct[i]))
			}
		}
	}
	if z := got[1][2].ForZones; len(z) != 1 || z[0].Name != "z1z2" {
		t.Errorf("zone z1z2 became %v", z)
	}
}
