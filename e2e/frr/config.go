package frr

import (
	"fmt"
	"net/netip"
	"strings"
)

// Configs are the per-daemon configuration files. Each daemon reads its own
// file (there is no integrated frr.conf, which only vtysh -b would split),
// so the BFD profile lives in bfdd's file and bgpd's only refers to it.
type Configs struct {
	Zebra, BFDD, BGPD string
}

// Config renders the daemons' configuration files for o. hostname names
// the router in FRR's prompts and logs.
func Config(hostname string, o Options) (Configs, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Configs{}, err
	}
	if !o.RouterID.IsValid() {
		return Configs{}, fmt.Errorf("frr: Options.RouterID is required when the host has no IPv4 address")
	}
	header := fmt.Sprintf("frr defaults traditional\nhostname %s\nlog timestamp precision 3\n!\n", hostname)

	var bfd strings.Builder
	bfd.WriteString(header)
	if o.Debug {
		bfd.WriteString("debug bfd peer\ndebug bfd network\ndebug bfd zebra\n!\n")
	}
	fmt.Fprintf(&bfd, "bfd\n profile %s\n  receive-interval %d\n  transmit-interval %d\n  detect-multiplier %d\n exit\n!\nexit\n!\n",
		bfdProfile, o.BFD.ReceiveInterval.Milliseconds(), o.BFD.TransmitInterval.Milliseconds(), o.BFD.DetectMultiplier)

	var b strings.Builder
	b.WriteString(header)
	if o.Debug {
		b.WriteString("debug bgp neighbor-events\ndebug bgp updates\ndebug bgp bfd\ndebug bgp graceful-restart\n!\n")
	}
	fmt.Fprintf(&b, "router bgp %d\n", o.ASN)
	fmt.Fprintf(&b, " bgp router-id %s\n", o.RouterID)
	// Without a policy FRR (since 7.4) neither accepts nor sends eBGP
	// routes; tests want everything.
	b.WriteString(" no bgp ebgp-requires-policy\n")
	// Sessions carry only the families they are activated in below.
	b.WriteString(" no bgp default ipv4-unicast\n")
	b.WriteString(" no bgp network import-check\n")
	// ECMP over next hops from different ASes (one per node in eBGP).
	b.WriteString(" bgp bestpath as-path multipath-relax\n")
	b.WriteString(" bgp log-neighbor-changes\n")
	if o.GracefulRestart {
		b.WriteString(" bgp graceful-restart\n")
	}
	if o.StalePathTime > 0 {
		fmt.Fprintf(&b, " bgp graceful-restart stalepath-time %d\n", int(o.StalePathTime.Seconds()))
	}
	if o.HoldTime > 0 {
		fmt.Fprintf(&b, " timers bgp %d %d\n", int(o.KeepaliveTime.Seconds()), int(o.HoldTime.Seconds()))
	}
	for _, n := range o.Neighbors {
		remote := n.RemoteAS
		if n.ASN != 0 {
			remote = fmt.Sprint(n.ASN)
		}
		fmt.Fprintf(&b, " neighbor %s remote-as %s\n", n.Address, remote)
		if n.Password != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", n.Address, n.Password)
		}
		if n.BFD {
			fmt.Fprintf(&b, " neighbor %s bfd\n neighbor %s bfd profile %s\n", n.Address, n.Address, bfdProfile)
		}
		if n.Passive {
			fmt.Fprintf(&b, " neighbor %s passive\n", n.Address)
		}
	}
	for _, f := range []Family{IPv4, IPv6} {
		fmt.Fprintf(&b, " !\n address-family %s unicast\n", f)
		for _, p := range o.Networks {
			if familyOf(p.Addr()) == f {
				fmt.Fprintf(&b, "  network %s\n", p)
			}
		}
		for _, n := range o.Neighbors {
			for _, nf := range n.families() {
				if nf == f {
					fmt.Fprintf(&b, "  neighbor %s activate\n", n.Address)
				}
			}
		}
		fmt.Fprintf(&b, "  maximum-paths %d\n  maximum-paths ibgp %d\n", o.MaximumPaths, o.MaximumPaths)
		b.WriteString(" exit-address-family\n")
	}
	b.WriteString("exit\n!\n")
	return Configs{Zebra: header, BFDD: bfd.String(), BGPD: b.String()}, nil
}

// routerIDFor picks the default router ID: the host's IPv4 address.
func routerIDFor(v4 netip.Prefix) netip.Addr {
	if v4.IsValid() && v4.Addr().Is4() {
		return v4.Addr()
	}
	return netip.Addr{}
}
