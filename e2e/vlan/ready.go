package vlan

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// ifRef names one interface in one namespace, with the IPv6 addresses it
// must be ready to answer neighbour solicitations for.
type ifRef struct {
	ns   *namespace
	name string
	v6   []netip.Addr
}

// readyTimeout bounds waitReady. The kernel's linkwatch batches carrier
// events and may hold one back for up to a second.
const readyTimeout = 5 * time.Second

// waitReady waits until every interface is operationally up (or, with up
// false, not up) and, when up, has joined the solicited-node multicast
// group of each of its listed IPv6 addresses.
//
// Both happen asynchronously in the kernel after the configuration calls
// return, and until they have, traffic is dropped silently: a veth only
// transmits once linkwatch has activated it (which also sets the
// operational state), and an IPv6 address only hears neighbour
// solicitations once the address work queue has joined its group, even with
// DAD off. Either showed up as a one-second retransmission of the first ARP
// or NS on a busy machine.
func waitReady(ctx context.Context, up bool, refs ...ifRef) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		var pending []string
		for _, r := range refs {
			missing, err := r.notReady(up)
			if err != nil {
				return err
			}
			pending = append(pending, missing...)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interfaces not ready (up=%v): %s: %w", up, strings.Join(pending, ", "), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// notReady lists what this interface still lacks.
func (r ifRef) notReady(up bool) ([]string, error) {
	l, err := r.ns.nl.LinkByName(r.name)
	if err != nil {
		return nil, fmt.Errorf("netns %s: find %s: %w", r.ns.name, r.name, err)
	}
	if state := l.Attrs().OperState; (state == netlink.OperUp) != up {
		return []string{fmt.Sprintf("%s/%s is %s", r.ns.name, r.name, state)}, nil
	}
	if !up || len(r.v6) == 0 {
		return nil, nil
	}
	groups, err := r.ns.multicastGroups(r.name)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, a := range r.v6 {
		if g := solicitedNode(a); !groups[g] {
			missing = append(missing, fmt.Sprintf("%s/%s has not joined %s", r.ns.name, r.name, g))
		}
	}
	return missing, nil
}

// solicitedNode is the solicited-node multicast group of a (ff02::1:ffXX:XXXX).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// multicastGroups returns the IPv6 groups an interface has joined, from
// igmp6 of the namespace ("idx name group-hex users flags timer" lines).
func (n *namespace) multicastGroups(ifname string) (map[netip.Addr]bool, error) {
	var data []byte
	err := n.do(func() error {
		var err error
		// thread-self: /proc/net would show the namespace of the main
		// thread, not of this one.
		data, err = os.ReadFile("/proc/thread-self/net/igmp6")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: read igmp6: %w", n.name, err)
	}
	groups := map[netip.Addr]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != ifname {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil || len(b) != 16 {
			continue
		}
		groups[netip.AddrFrom16([16]byte(b))] = true
	}
	return groups, nil
}
