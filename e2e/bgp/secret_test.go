package bgp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

// canary is a password no code, log line or fixture could contain by
// chance: finding it anywhere means it leaked.
func canary(t *testing.T, what string) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "leakcanary-" + what + "-" + hex.EncodeToString(b)
}

// TestPasswordSecretIsWatchedAndNeverLeaks runs the BGP sessions of three
// speakers with FRR under a TCP-MD5 password from a Secret: up, then a
// wrong password (the Secret changes to a value FRR does not have), then a
// rotation of both, which must be back within 5 s of the Secret update; a
// change of an unrelated Secret wakes no BGP reconcile. Then it greps
// every place the password could leak to: the logs of the controller and
// the speakers (at debug level), every Event, every object IronLB writes
// or reads but the Secret itself, the metrics of every component and the
// output of ironlbctl status and why.
func TestPasswordSecretIsWatchedAndNeverLeaks(t *testing.T) {
	ctx := context.Background()
	first, wrong, rotated := canary(t, "first"), canary(t, "wrong"), canary(t, "rotated")
	ctlPort := cluster.FreePort(t)
	c := cluster.Start(t, cluster.Options{
		Router:         true,
		ControllerArgs: []string{"-log-level", "debug", "-metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ctlPort), "-metrics-secure=false"},
		SpeakerArgs:    []string{"-log-level", "debug", "-metrics-bind-address", cluster.SpeakerMetricsAddr, "-metrics-secure=false"},
	})
	var neighbors []frr.Neighbor
	var nodeAddrs4 []netip.Addr
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors, frr.Neighbor{Address: n.IPv4.Addr(), ASN: clusterASN, Password: first})
		nodeAddrs4 = append(nodeAddrs4, n.IPv4.Addr())
	}
	r := frr.New(t, c.Lab.Router, frr.Options{ASN: routerASN, RouterID: c.Lab.Router.IPv4.Addr(), Neighbors: neighbors, MaximumPaths: 8})

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.SystemNamespace, Name: "tor-password"},
		Type:       corev1.SecretTypeBasicAuth,
		Data:       map[string][]byte{"password": []byte(first)},
	}
	unrelated := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.SystemNamespace, Name: "unrelated"},
		Data:       map[string][]byte{"password": []byte("x")},
	}
	c.Create(t, secret, unrelated,
		cluster.Pool("bgp", "203.0.113.128/25"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{
			MyASN: clusterASN, ASN: routerASN, Address: c.Lab.Router.IPv4.Addr().String(),
			ConnectTime:    &metav1.Duration{Duration: 2 * time.Second},
			PasswordSecret: &v1beta1.SecretReference{Namespace: cluster.SystemNamespace, Name: "tor-password"},
		}},
		cluster.LoadBalancer("default", "web"),
	)
	c.SetEndpoints(t, "default", "web", cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("192.0.2.20"), Ready: true})
	ip := c.WaitForIPs(t, "default", "web", 1)[0]

	// 1. The password from the Secret brings every session up.
	waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := r.WaitEstablished(waitCtx, nodeAddrs4...); err != nil {
		t.Fatalf("sessions with the Secret's password: %v", err)
	}
	waitNextHops(t, r, netip.PrefixFrom(ip, 32), nodeAddrs(c, false, "node1", "node2", "node3"))
	waitSessionState(t, c, "node1.tor", func(s v1beta1.BGPSessionStatusStatus) error {
		if s.State != "Established" {
			return fmt.Errorf("state %s", s.State)
		}
		return nil
	})

	// 2. An unrelated Secret's change, and a metadata-only change of the
	// referenced one, wake no BGP reconcile; the password change after
	// them does (the positive check that the counter moves at all).
	before := bgpReconciles(t, c)
	unrelated.Data["password"] = []byte("y")
	update(t, c, unrelated)
	secret.Labels = map[string]string{"touched": "yes"}
	update(t, c, secret)
	time.Sleep(2 * time.Second)
	if after := bgpReconciles(t, c); !maps.Equal(after, before) {
		t.Errorf("Secret changes that are no password change of a referenced Secret woke bgpsync: reconciles %v -> %v", before, after)
	}

	// 3. A wrong password: the sessions go down and the status says why.
	secret.Data["password"] = []byte(wrong)
	update(t, c, secret)
	waitReconciles(t, c, before)
	waitDown(t, r, nodeAddrs4)
	waitSessionState(t, c, "node1.tor", func(s v1beta1.BGPSessionStatusStatus) error {
		if s.State == "Established" || s.LastError == "" {
			return fmt.Errorf("state %s, last error %q", s.State, s.LastError)
		}
		if !regexp.MustCompile(`TCP-MD5`).MatchString(s.LastError) {
			return fmt.Errorf("last error %q does not mention TCP-MD5", s.LastError)
		}
		return nil
	})

	// 4. Rotation: the router gets the new password, then the Secret; the
	// sessions are back within 5 s of the Secret update.
	var lines []string
	lines = append(lines, fmt.Sprintf("router bgp %d", routerASN))
	for _, a := range nodeAddrs4 {
		lines = append(lines, fmt.Sprintf("neighbor %s password %s", a, rotated))
	}
	if err := r.Configure(ctx, frr.BGPD, lines...); err != nil {
		t.Fatal(err)
	}
	secret.Data["password"] = []byte(rotated)
	update(t, c, secret)
	updated := time.Now()
	rotCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.WaitEstablished(rotCtx, nodeAddrs4...); err != nil {
		t.Fatalf("sessions not back within 5 s of the rotation: %v", err)
	}
	t.Logf("rotation: every session Established %v after the Secret update", time.Since(updated).Round(time.Millisecond))
	waitNextHops(t, r, netip.PrefixFrom(ip, 32), nodeAddrs(c, false, "node1", "node2", "node3"))
	waitSessionState(t, c, "node1.tor", func(s v1beta1.BGPSessionStatusStatus) error {
		if s.State != "Established" {
			return fmt.Errorf("state %s", s.State)
		}
		return nil
	})

	// 5. No password anywhere.
	checkNoLeak(t, c, ctlPort, []string{first, wrong, rotated})
}

func update(t *testing.T, c *cluster.Cluster, o client.Object) {
	t.Helper()
	if err := c.Client.Update(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func waitSessionState(t *testing.T, c *cluster.Cluster, name string, ok func(v1beta1.BGPSessionStatusStatus) error) {
	t.Helper()
	cluster.Eventually(t, 60*time.Second, "BGPSessionStatus "+name, func() error {
		var st v1beta1.BGPSessionStatus
		if err := c.Client.Get(context.Background(), client.ObjectKey{Name: name}, &st); err != nil {
			return err
		}
		return ok(st.Status)
	})
}

func waitDown(t *testing.T, r *frr.Router, addrs []netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.WaitNeighbors(ctx, func(m map[netip.Addr]frr.NeighborStatus) bool {
		for _, a := range addrs {
			if m[a].Established() {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("sessions still up with a wrong password: %v", err)
	}
}

var reconcileTotal = regexp.MustCompile(`(?m)^controller_runtime_reconcile_total\{controller="bgp",result="[a-z_]+"\} (\d+)$`)

// bgpReconciles is each speaker's count of BGP reconciles so far.
func bgpReconciles(t *testing.T, c *cluster.Cluster) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range c.Lab.Nodes {
		body := cluster.HTTPGet(t, cluster.NodeHTTPClient(n), "http://"+cluster.SpeakerMetricsAddr+"/metrics")
		for _, m := range reconcileTotal.FindAllSubmatch(body, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			out[n.Name] += v
		}
	}
	return out
}

// waitReconciles waits until every speaker reconciled BGP more often than
// in before.
func waitReconciles(t *testing.T, c *cluster.Cluster, before map[string]int) {
	t.Helper()
	var woke []string
	cluster.Eventually(t, 10*time.Second, "a BGP reconcile", func() error {
		woke = nil
		for n, v := range bgpReconciles(t, c) {
			if v > before[n] {
				woke = append(woke, n)
			}
		}
		if len(woke) < len(c.Lab.Nodes) {
			return fmt.Errorf("woken: %v", woke)
		}
		return nil
	})
}

// checkNoLeak greps for each password, raw and base64-encoded, in every
// output of IronLB the test can reach.
func checkNoLeak(t *testing.T, c *cluster.Cluster, ctlPort int, passwords []string) {
	t.Helper()
	ctx := context.Background()
	places := map[string][]byte{}
	read := func(name, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty: nothing was checked", name)
		}
		places[name] = b
	}
	read("controller log", c.Controller().Log)
	for _, n := range c.Lab.Nodes {
		read("speaker log "+n.Name, c.Speaker(n.Name).Log)
		places["speaker metrics "+n.Name] = cluster.HTTPGet(t, cluster.NodeHTTPClient(n), "http://"+cluster.SpeakerMetricsAddr+"/metrics")
	}
	places["controller metrics"] = cluster.HTTPGet(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/metrics", ctlPort))
	if !bytes.Contains(places["speaker log node1"], []byte(`"level":"DEBUG"`)) {
		t.Error("the speaker did not log at debug level: the check would miss debug lines")
	}

	lists := map[string]client.ObjectList{
		"Events": &corev1.EventList{}, "Services": &corev1.ServiceList{}, "Nodes": &corev1.NodeList{},
		"BGPSessionStatuses": &v1beta1.BGPSessionStatusList{}, "ServiceL2Statuses": &v1beta1.ServiceL2StatusList{},
		"IPAddressPools": &v1beta1.IPAddressPoolList{}, "BGPPeers": &v1beta1.BGPPeerList{},
		"BGPAdvertisements": &v1beta1.BGPAdvertisementList{},
	}
	for name, l := range lists {
		if err := c.Client.List(ctx, l); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		places[name] = b
	}
	if !bytes.Contains(places["Events"], []byte("IPAllocated")) || !bytes.Contains(places["BGPSessionStatuses"], []byte("TCP-MD5")) {
		// The wrong password's error stays as lastError after recovery.
		t.Error("the Events or BGPSessionStatuses are not what the test produced: nothing real was checked")
	}

	bin := filepath.Join(t.TempDir(), "ironlbctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ironlb/ironlb/ironlbctl").CombinedOutput(); err != nil {
		t.Fatalf("build ironlbctl: %v\n%s", err, out)
	}
	kubeconfig, err := c.API.KubeconfigFor("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"status", "-o", "json"}, {"why", "default/web"}, {"why", "default/web", "-o", "json"}} {
		out, err := exec.Command(bin, append(args, "--kubeconfig", kubeconfig)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ironlbctl %v: %v\n%s", args, err, out)
		}
		places[fmt.Sprintf("ironlbctl %v", args)] = out
	}

	for _, pw := range passwords {
		for _, form := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw))} {
			for name, b := range places {
				if i := bytes.Index(b, []byte(form)); i >= 0 {
					t.Errorf("a password leaked into the %s: ...%s...", name, b[max(0, i-200):min(len(b), i+len(form)+50)])
				}
			}
		}
	}
	t.Logf("checked %d places for %d passwords", len(places), len(passwords))
}
