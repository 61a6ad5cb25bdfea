package layer2_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/speaker/l2sync"
)

// announcedBy is how many times the Service's events said that node
// announces ip (repeated events are one Event whose count grows).
func announcedBy(t *testing.T, c *cluster.Cluster, ip fmt.Stringer, node string) int32 {
	prefix := fmt.Sprintf("%s announced by node %s ", ip, node)
	var n int32
	for _, ev := range c.Events(t, "Service", "default", "web", l2sync.ReasonAnnounced) {
		if strings.HasPrefix(ev.Message, prefix) {
			n += max(ev.Count, 1)
		}
	}
	return n
}

// A node cut off from the LAN loses its addresses to the others and gets
// them back when its link returns; both moves are told on the Service, the
// return too, although that node had told the same before its loss. And
// each only once: while the views converge two speakers may overwrite
// each other's status a few times, which is no news.
func TestAnAddressThatComesBackToItsNodeIsReported(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	ip, owner := failoverService(t, c)
	cluster.Eventually(t, 15*time.Second, "the event of the first announcement", func() error {
		if n := announcedBy(t, c, ip, owner); n != 1 {
			return fmt.Errorf("%d events say %s announces %s, want 1", n, owner, ip)
		}
		return nil
	})

	host := c.Lab.Host(owner)
	if err := host.SetLink(false); err != nil {
		t.Fatal(err)
	}
	other := c.WaitForAnnouncer(t, "default", "web", ip, func(n string) bool { return n != owner })
	cluster.Eventually(t, 15*time.Second, "the event of the failover", func() error {
		if n := announcedBy(t, c, ip, other); n < 1 {
			return fmt.Errorf("no event says %s announces %s", other, ip)
		}
		return nil
	})
	if err := host.SetLink(true); err != nil {
		t.Fatal(err)
	}
	c.WaitForAnnouncer(t, "default", "web", ip, func(n string) bool { return n == owner })
	cluster.Eventually(t, 15*time.Second, "the event of the failback", func() error {
		if n := announcedBy(t, c, ip, owner); n != 2 {
			for _, ev := range c.Events(t, "Service", "default", "web", l2sync.ReasonAnnounced) {
				t.Logf("event %q x%d", ev.Message, ev.Count)
			}
			return fmt.Errorf("%d events say %s announces %s, want 2 (before the link loss and after its return)", n, owner, ip)
		}
		return nil
	})
}
