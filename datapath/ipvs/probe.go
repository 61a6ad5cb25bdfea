package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// probeTimeout bounds each netlink call of a probe.
const probeTimeout = 5 * time.Second

// Available reports whether IPVS works in the caller's network namespace;
// --datapath=auto picks IPVS when it returns nil and nftables otherwise.
func Available() error {
	return Probe(context.Background(), "")
}

// Probe checks IPVS in the network namespace at netnsPath ("" is the
// caller's). moby/ipvs reports success for every call when the kernel has
// no IPVS (its requests then go to no netlink family and are acknowledged
// empty), so this does not trust an error-free call: /proc/net/ip_vs must
// exist, and a throw-away firewall-mark service must show up in the
// listing after it is created. It is deleted again; no address-based
// service (IronLB's or anyone's) is touched.
func Probe(ctx context.Context, netnsPath string) error {
	ns := netns.NsHandle(-1)
	if netnsPath != "" {
		var err error
		if ns, err = netns.GetFromPath(netnsPath); err != nil {
			return fmt.Errorf("IPVS probe: open netns %s: %w", netnsPath, err)
		}
		defer ns.Close()
	}
	h := newHandle(func() (conn, error) { return ipvs.New(netnsPath) }, probeTimeout)
	defer h.Close()
	// Opening the first handle runs `modprobe ip_vs` (moby/ipvs does).
	if err := do(ctx, h, "list services", func(c conn) error { _, err := c.GetServices(); return err }); err != nil {
		return fmt.Errorf("IPVS probe: %w", err)
	}
	err := inNetNS(ns, func() error {
		_, err := os.Stat("/proc/thread-self/net/ip_vs")
		return err
	})
	if err != nil {
		return fmt.Errorf("IPVS probe: the kernel has no IPVS (CONFIG_IP_VS, module ip_vs): %w", err)
	}
	mark := uint32(0x1b1b0000 | os.Getpid()&0xffff)
	svc := &ipvs.Service{FWMark: mark, AddressFamily: unix.AF_INET, SchedName: "rr", Netmask: 0xffffffff}
	if err := do(ctx, h, "create probe service", func(c conn) error { return c.NewService(svc) }); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("IPVS probe: %w", err)
	}
	found := false
	listErr := do(ctx, h, "list services", func(c conn) error {
		svcs, err := c.GetServices()
		for _, s := range svcs {
			if s.FWMark == mark {
				found = true
			}
		}
		return err
	})
	delErr := do(ctx, h, "delete probe service", func(c conn) error { return c.DelService(svc) })
	switch {
	case listErr != nil:
		return fmt.Errorf("IPVS probe: %w", listErr)
	case !found:
		return fmt.Errorf("IPVS probe: a firewall-mark service %#x was created without error but is not listed: IPVS does not answer netlink", mark)
	case delErr != nil:
		return fmt.Errorf("IPVS probe: %w", delErr)
	}
	return nil
}
