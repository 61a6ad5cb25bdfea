package badinput_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/badinput"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

const (
	corpusDir  = "../testdata/bad-input"
	routerASN  = 64500
	clusterASN = 64512
	// caseTimeout bounds the wait for one positive signal (a status
	// condition, an event, a deletion).
	caseTimeout = 30 * time.Second
)

// backend is the one ready endpoint of every Service of the test.
var backend = []cluster.Endpoint{
	{Node: "node1", Addr: netip.MustParseAddr("192.0.2.20"), Ready: true},
	{Node: "node1", Addr: netip.MustParseAddr("2001:db8:200::20"), Ready: true},
}

// TestBadInputIsRejectedNamingTheFieldAndChangesNothing applies every case
// of the corpus to a cluster that runs a valid configuration (layer 2 and
// BGP pools, advertisements, a Community, a BFD profile, two BGP peers with
// FRR, Services holding IPs): first with the validating webhook installed,
// where every IronLB object must be rejected naming the field; then
// without it, where the object's Valid=False condition (or, for Service
// annotations, an event on the Service) must name the field. Rejections by
// the API server itself (schema, CEL, size limits) must name the field in
// both. After each case, nothing the valid objects do may have changed; the
// bad object is deleted before the next case.
func TestBadInputIsRejectedNamingTheFieldAndChangesNothing(t *testing.T) {
	cases, err := badinput.Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w, vars := startValidCluster(t)
	base, err := w.take(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("valid cluster up in %v; baseline: %v", time.Since(start).Round(time.Millisecond), base)

	ctx := context.Background()
	if err := w.c.InstallWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	waitWebhook(t, w.c, true)
	phase := time.Now()
	t.Run("webhook", func(t *testing.T) {
		for _, tc := range cases {
			if tc.Layer == badinput.LayerController {
				continue // Services pass no IronLB webhook; see the "status" phase
			}
			t.Run(tc.Name, func(t *testing.T) { runCase(t, w, base, tc, vars, true) })
		}
	})
	t.Logf("webhook phase: %v", time.Since(phase).Round(time.Millisecond))

	if err := w.c.RemoveWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	waitWebhook(t, w.c, false)
	phase = time.Now()
	t.Run("status", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) { runCase(t, w, base, tc, vars, false) })
		}
	})
	t.Logf("status phase: %v", time.Since(phase).Round(time.Millisecond))

	// A change a speaker made late would show here at the latest.
	got, err := w.take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff(base, got) {
		t.Errorf("after every case: %s", d)
	}
}

// runCase applies one case, checks who rejected it and that the rejection
// names the field, checks the valid objects, and deletes what was created.
func runCase(t *testing.T, w *world, base snapshot, tc badinput.Case, vars map[string]string, webhook bool) {
	ctx := context.Background()
	obj, err := tc.Object(vars)
	if err != nil {
		t.Fatal(err)
	}
	err = w.c.Client.Create(ctx, obj)
	if err == nil {
		t.Cleanup(func() { deleteAndWait(t, w.c, obj) })
	}
	switch {
	case tc.Layer == badinput.LayerAPIServer:
		checkRejected(t, tc, err, false)
	case tc.Layer == badinput.LayerWebhook && webhook:
		checkRejected(t, tc, err, true)
	case err != nil:
		t.Errorf("%s layer: the API server rejected it without a webhook: %v", tc.Layer, err)
	case tc.Layer == badinput.LayerWebhook:
		t.Logf("Valid=False: %s", waitInvalidCondition(t, w.c, obj, tc.Field))
	default:
		if obj.GetKind() == "Service" {
			// A backend like the valid Services', so that a Service which
			// gets an IP is also carried by the datapath.
			w.c.SetEndpoints(t, obj.GetNamespace(), obj.GetName(), backend...)
		}
		t.Logf("%s event: %s", tc.Event, waitEvent(t, w.c, obj, tc.Event, tc.Field))
	}
	got, err := w.take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff(base, got) {
		t.Errorf("changed by the bad input: %s", d)
	}
}

// checkRejected wants err to be a rejection naming the field, by the
// webhook or, when byWebhook is false, by the API server before any
// webhook.
func checkRejected(t *testing.T, tc badinput.Case, err error, byWebhook bool) {
	t.Helper()
	if err == nil {
		t.Errorf("accepted; want a rejection naming %s", tc.Field)
		return
	}
	msg := err.Error()
	fromWebhook := strings.Contains(msg, fmt.Sprintf("admission webhook %q denied", cluster.WebhookName))
	switch {
	case byWebhook && !fromWebhook:
		t.Errorf("rejected, but not by the webhook: %v", err)
	case !byWebhook && fromWebhook:
		t.Errorf("rejected by the webhook, but the API server was expected to reject it first: %v", err)
	}
	if !strings.Contains(msg, tc.Field) {
		t.Errorf("the rejection does not name %s: %v", tc.Field, err)
	}
	t.Logf("rejected: %s", msg)
}

// waitInvalidCondition waits for the object's Valid=False condition of its
// current generation and wants it to name the field.
func waitInvalidCondition(t *testing.T, c *cluster.Cluster, obj *unstructured.Unstructured, field string) string {
	t.Helper()
	var msg string
	cluster.Eventually(t, caseTimeout, "a Valid=False condition naming "+field, func() error {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(obj.GroupVersionKind())
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), o); err != nil {
			return err
		}
		cond := conditionOf(o, v1beta1.ConditionValid)
		switch {
		case cond == nil:
			return fmt.Errorf("no Valid condition")
		case cond.ObservedGeneration != o.GetGeneration():
			return fmt.Errorf("condition of generation %d, object at %d", cond.ObservedGeneration, o.GetGeneration())
		case cond.Status != metav1.ConditionFalse:
			return fmt.Errorf("Valid=%s: %s", cond.Status, cond.Message)
		case !strings.Contains(cond.Message, field):
			return fmt.Errorf("Valid=False does not name %s: %s", field, cond.Message)
		}
		msg = cond.Message
		return nil
	})
	return msg
}

// waitEvent waits for an event of the reason on the object naming field.
func waitEvent(t *testing.T, c *cluster.Cluster, obj *unstructured.Unstructured, reason, field string) string {
	t.Helper()
	var msg string
	cluster.Eventually(t, caseTimeout, fmt.Sprintf("a %s event naming %s", reason, field), func() error {
		var list corev1.EventList
		if err := c.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		var seen []string
		for _, ev := range list.Items {
			o := ev.InvolvedObject
			if o.Kind != obj.GetKind() || o.Name != obj.GetName() || o.UID != obj.GetUID() {
				continue
			}
			if ev.Reason == reason && strings.Contains(ev.Message, field) {
				msg = ev.Message
				return nil
			}
			seen = append(seen, ev.Reason+": "+ev.Message)
		}
		return fmt.Errorf("events so far: %q", seen)
	})
	return msg
}

// deleteAndWait deletes a created case object and waits until it is gone,
// so the next case starts from the valid configuration alone.
func deleteAndWait(t *testing.T, c *cluster.Cluster, obj *unstructured.Unstructured) {
	ctx := context.Background()
	if err := c.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
		return
	}
	cluster.Eventually(t, caseTimeout, "the case object to be deleted", func() error {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(obj.GroupVersionKind())
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), o)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// waitWebhook waits until the API server does (installed) or does not
// consult the webhook, probing with a dry-run pool that overlaps "l2".
func waitWebhook(t *testing.T, c *cluster.Cluster, installed bool) {
	t.Helper()
	cluster.Eventually(t, caseTimeout, fmt.Sprintf("the webhook installed=%v", installed), func() error {
		err := c.Client.Create(context.Background(), cluster.Pool("webhook-probe", "203.0.113.0/24"), client.DryRunAll)
		denied := err != nil && strings.Contains(err.Error(), cluster.WebhookName)
		switch {
		case installed && !denied:
			return fmt.Errorf("an overlapping pool was not denied by the webhook: %v", err)
		case !installed && err != nil:
			return err
		}
		return nil
	})
}

// startValidCluster starts two nodes and FRR, applies the valid
// configuration and two Services, and waits until both are announced and
// every session is up. It returns the world and the corpus variables.
func startValidCluster(t *testing.T) (*world, map[string]string) {
	t.Helper()
	c := cluster.Start(t, cluster.Options{Nodes: 2, Router: true, Datapath: "nftables", Webhook: true})
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors,
			frr.Neighbor{Address: n.IPv4.Addr(), ASN: clusterASN},
			frr.Neighbor{Address: n.IPv6.Addr(), ASN: clusterASN})
	}
	r := frr.New(t, c.Lab.Router, frr.Options{ASN: routerASN, RouterID: c.Lab.Router.IPv4.Addr(), Neighbors: neighbors})
	vars := map[string]string{
		"ROUTER_V4": c.Lab.Router.IPv4.Addr().String(),
		"ROUTER_V6": c.Lab.Router.IPv6.Addr().String(),
	}
	valid, err := badinput.Documents(filepath.Join(corpusDir, "valid", "cluster.yaml"), vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range valid {
		c.Create(t, o)
	}
	pool := func(name string) cluster.ServiceOpt {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{svcrequest.AnnotationAddressPool: name}
		}
	}
	c.Create(t, cluster.LoadBalancer("default", "web-l2", pool("l2")),
		cluster.LoadBalancer("default", "web-bgp", pool("bgp"), cluster.DualStack))
	c.SetEndpoints(t, "default", "web-l2", backend...)
	c.SetEndpoints(t, "default", "web-bgp", backend...)
	l2IP := c.WaitForIPs(t, "default", "web-l2", 1)[0]
	vars["WEB_L2_IP"] = l2IP.String()
	bgpIPs := c.WaitForIPs(t, "default", "web-bgp", 2)
	c.WaitForAnnouncer(t, "default", "web-l2", l2IP, func(string) bool { return true })

	w := &world{c: c, r: r, valid: valid, services: []string{"web-l2", "web-bgp"}}
	cluster.Eventually(t, 90*time.Second, "both BGP IPs routed via both nodes with community gold, 4 sessions up, every object Valid", func() error {
		s, err := w.take(context.Background())
		if err != nil {
			return err
		}
		for _, ip := range bgpIPs {
			want := fmt.Sprintf("%s [64512:100] []; %s [64512:100] []", c.NodeAddr("node1", ip.Is6()), c.NodeAddr("node2", ip.Is6()))
			if got := s["route "+ip.String()]; got != want {
				return fmt.Errorf("route %s: %q, want %q", ip, got, want)
			}
		}
		up := 0
		for k, v := range s {
			switch {
			case strings.HasPrefix(k, "session ") && strings.HasPrefix(v, "Established "):
				up++
			case strings.HasPrefix(k, "valid ") && v != "True":
				return fmt.Errorf("%s: %s", k, v)
			}
		}
		if up != 4 {
			return fmt.Errorf("%d of 4 BGPSessionStatus Established: %v", up, s)
		}
		return nil
	})
	return w, vars
}
