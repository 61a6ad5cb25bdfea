package speakerscale

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/configsource"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// referencePlan is the layer 2 election over what the API server holds,
// computed from scratch by l2plan.Compute for a set of live speakers: what
// every speaker's incremental election must agree with. The real speaker
// shows its part of it (the IPs it announces) in its ServiceL2Status
// log; the simulated speakers elect nothing.
func referencePlan(tb testing.TB, cl client.Client, alive []string) l2plan.Plan {
	tb.Helper()
	ctx := context.Background()
	res, err := configsource.List(ctx, cl)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, errs := config.Compile(res)
	if len(errs) > 0 {
		tb.Fatalf("configuration: %v", errs)
	}
	var (
		svcs   corev1.ServiceList
		slices discoveryv1.EndpointSliceList
		nodes  corev1.NodeList
	)
	for _, l := range []client.ObjectList{&svcs, &slices, &nodes} {
		if err := cl.List(ctx, l); err != nil {
			tb.Fatal(err)
		}
	}
	sp := make([]*corev1.Service, len(svcs.Items))
	for i := range svcs.Items {
		sp[i] = &svcs.Items[i]
	}
	sl := make([]*discoveryv1.EndpointSlice, len(slices.Items))
	for i := range slices.Items {
		sl[i] = &slices.Items[i]
	}
	var ns []l2plan.Node
	for i := range nodes.Items {
		ns = append(ns, l2plan.NodeFrom(&nodes.Items[i]))
	}
	return l2plan.Compute(cfg, lbstate.Build(sp, sl), ns, alive)
}

// ownedBy is the set of IPs a plan gives to node.
func ownedBy(p l2plan.Plan, node string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for ip, o := range p.Owners {
		if o.Node == node {
			out[ip] = true
		}
	}
	return out
}

// announcedBy is the set of IPs the real speaker announces, replayed
// from its log ("announcing" and "claim withdrawn" of speaker/layer2).
// Not from its ServiceL2Status objects: when an IP moves from the real
// speaker to a simulated one, nobody rewrites that status (the new owner
// would), so it keeps naming the real speaker.
func announcedBy(tb testing.TB, logPath string) map[netip.Addr]bool {
	tb.Helper()
	out := map[netip.Addr]bool{}
	readLog(tb, logPath, func(l logLine) {
		ip, err := netip.ParseAddr(l.IP)
		if err != nil {
			return
		}
		switch l.Msg {
		case "announcing":
			out[ip] = true
		case "claim withdrawn", "waiting for interface":
			delete(out, ip)
		}
	})
	return out
}

// deathsSeen counts the speakers the real speaker has held dead so far
// (speaker/members logs each transition).
func deathsSeen(tb testing.TB, logPath string) int {
	tb.Helper()
	n := 0
	readLog(tb, logPath, func(l logLine) {
		if l.Msg == "members: peer state" && l.State == "dead" {
			n++
		}
	})
	return n
}

// logLine holds the fields of the speaker's JSON log lines read here.
type logLine struct {
	Msg   string `json:"msg"`
	IP    string `json:"ip"`
	State string `json:"state"`
}

// readLog hands every JSON line of a speaker log to fn.
func readLog(tb testing.TB, logPath string, fn func(logLine)) {
	tb.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			fn(l)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}

// differ counts the IPs in one set and not the other.
func differ(a, b map[netip.Addr]bool) int {
	n := 0
	for ip := range a {
		if !b[ip] {
			n++
		}
	}
	for ip := range b {
		if !a[ip] {
			n++
		}
	}
	return n
}

// awaitAnnounced waits until node announces exactly want; it
// returns how many IPs still differ when timeout ends (0: they agree).
func awaitAnnounced(tb testing.TB, logPath, node string, want map[netip.Addr]bool, timeout time.Duration) int {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := announcedBy(tb, logPath)
		d := differ(got, want)
		if d == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			for ip := range got {
				if !want[ip] {
					tb.Logf("%s announces %s, which the reference election does not give it", node, ip)
				}
			}
			for ip := range want {
				if !got[ip] {
					tb.Logf("%s does not announce %s, which the reference election gives it", node, ip)
				}
			}
			return d
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nodeLoss is what one node's loss moved.
type nodeLoss struct {
	victim                      string
	owned, moved, unowned       int // from the reference plans: the victim's IPs, the IPs whose owner changed, those of them the victim did not own
	speakerGained               int // IPs the real speaker took over
	falseDeaths                 int // live speakers the real speaker held dead before the loss
	speakerBefore, speakerAfter int // IPs in which what the real speaker announces and the reference disagree (after waiting)
}

// loseNode silences the simulated speaker owning the most layer 2 IPs and
// compares the election before and after, from scratch and as the real
// speaker's log shows it.
func loseNode(tb testing.TB, cl client.Client, s *sims, real, logPath string) nodeLoss {
	tb.Helper()
	alive := append([]string{real}, s.names...)
	before := referencePlan(tb, cl, alive)
	var r nodeLoss
	r.speakerBefore = awaitAnnounced(tb, logPath, real, ownedBy(before, real), time.Minute)
	for _, name := range s.names {
		if n := len(ownedBy(before, name)); n > r.owned {
			r.victim, r.owned = name, n
		}
	}
	mine := announcedBy(tb, logPath)
	r.falseDeaths = deathsSeen(tb, logPath)
	s.kill(tb, r.victim)
	var rest []string
	for _, n := range alive {
		if n != r.victim {
			rest = append(rest, n)
		}
	}
	after := referencePlan(tb, cl, rest)
	for ip, o := range before.Owners {
		if after.Owners[ip].Node != o.Node {
			r.moved++
			if o.Node != r.victim {
				r.unowned++
				tb.Logf("%s moved from %s to %q (%s), though %s was lost", ip, o.Node, after.Owners[ip].Node, after.Unannounced[ip].Reason, r.victim)
			}
		}
	}
	r.speakerAfter = awaitAnnounced(tb, logPath, real, ownedBy(after, real), 30*time.Second)
	for ip := range announcedBy(tb, logPath) {
		if !mine[ip] {
			r.speakerGained++
		}
	}
	return r
}
