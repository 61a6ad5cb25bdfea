package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// This file is the cluster outside tests (the lab): the same parts as
// Start, with errors returned instead of failing a test, and a Close that
// the owner calls.

// ProcessOptions are what a long-running cluster needs beyond Options.
type ProcessOptions struct {
	// Binaries to run; zero: build them (Build).
	Binaries Binaries
	// LabID names the virtual LAN's namespaces ("ilb-<pid>-<LabID>-node1");
	// empty: random.
	LabID string
}

// StartProcess starts a cluster outside a test: the API server (with its
// logs in opts.LogDir when set), the virtual LAN, the Node objects, RBAC,
// the controller and the speakers. ctx bounds startup only; everything
// runs until Close, or until this process dies (children are started with
// Pdeathsig). On failure everything started so far is stopped again.
func StartProcess(ctx context.Context, opts Options, popts ProcessOptions) (c *Cluster, err error) {
	bin := popts.Binaries
	if bin.Controller == "" || bin.Speaker == "" {
		if bin, err = Build(); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	for _, p := range []string{bin.Controller, bin.Speaker} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("cluster: binary %s is missing or not executable (make build)", p)
		}
	}
	api, err := kubeapi.StartProcess(ctx, kubeapi.Options{LogDir: opts.LogDir})
	if err != nil {
		return nil, fmt.Errorf("cluster: API server: %w", err)
	}
	lab, err := vlan.Start(ctx, vlan.Options{Nodes: opts.Nodes, Clients: opts.Clients, Router: opts.Router, ID: popts.LabID})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cluster: virtual LAN: %w", err), api.Stop())
	}
	c, err = setup(ctx, api, lab, bin, opts)
	if err != nil {
		// setup has stopped the processes it started.
		return nil, errors.Join(fmt.Errorf("cluster: %w", err), lab.Close(), api.Stop())
	}
	return c, nil
}

// Close stops the controller and the speakers, the virtual LAN (pod
// namespaces included) and the API server. Safe to call twice.
func (c *Cluster) Close() error {
	c.stopAll()
	errs := []error{c.Lab.Close(), c.API.Stop()}
	if c.secretFile != "" && c.logDir != c.API.Dir {
		if err := os.Remove(c.secretFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StartPodProcess is StartPod without a test: it adds a pod namespace
// behind node serving the echo protocol on TCP 8080 and UDP 5353 until ctx
// is done.
func (c *Cluster) StartPodProcess(ctx context.Context, node, name string) (*Pod, error) {
	n := c.Lab.Host(node)
	if n == nil {
		return nil, fmt.Errorf("pod %s: no node %q", name, node)
	}
	h, err := c.Lab.AddPod(n, name, netip.Addr{}, netip.Addr{})
	if err != nil {
		return nil, fmt.Errorf("pod %s on %s: %w", name, node, err)
	}
	if err := c.routePods(node); err != nil {
		return nil, err
	}
	ln, err := h.Listen("tcp", ":8080")
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	pc, err := h.ListenPacket("udp", ":5353")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	// Closing the sockets ends both serving loops.
	context.AfterFunc(ctx, func() { ln.Close(); pc.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(conn, name)
		}
	}()
	go servePackets(pc, name)
	return &Pod{Name: name, Node: node, Host: h}, nil
}

func servePackets(pc net.PacketConn, name string) {
	buf := make([]byte, 512)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(fmt.Appendf(nil, "%s %s\n", name, from), from)
	}
}

// routePods gives every other node a route to node's pod subnets, as a
// cluster network would, so Cluster-policy traffic reaches remote pods.
func (c *Cluster) routePods(node string) error {
	c.mu.Lock()
	if c.podRoutes == nil {
		c.podRoutes = map[string]bool{}
	}
	done := c.podRoutes[node]
	c.podRoutes[node] = true
	c.mu.Unlock()
	if done {
		return nil
	}
	owner := c.Lab.Host(node)
	for _, n := range c.Lab.Nodes {
		if n == owner {
			continue
		}
		if err := n.AddRoute(owner.PodCIDRv4, owner.IPv4.Addr()); err != nil {
			return fmt.Errorf("route %s via %s on %s: %w", owner.PodCIDRv4, node, n.Name, err)
		}
		if err := n.AddRoute(owner.PodCIDRv6, owner.IPv6.Addr()); err != nil {
			return fmt.Errorf("route %s via %s on %s: %w", owner.PodCIDRv6, node, n.Name, err)
		}
	}
	return nil
}

// ApplyEndpoints writes the Service's EndpointSlices (one per family) as
// the EndpointSlice controller would for pods on these nodes.
func (c *Cluster) ApplyEndpoints(ctx context.Context, ns, svc string, eps ...Endpoint) error {
	for _, fam := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		es := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: ns, Name: svc + "-" + strings.ToLower(string(fam)),
				Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "e2e.ironlb.io"},
			},
			AddressType: fam,
			Ports: []discoveryv1.EndpointPort{
				{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(8080))},
				{Name: ptr("udp"), Protocol: ptr(corev1.ProtocolUDP), Port: ptr(int32(5353))},
			},
		}
		for _, e := range eps {
			if e.Addr.Is4() != (fam == discoveryv1.AddressTypeIPv4) {
				continue
			}
			ep := discoveryv1.Endpoint{
				Addresses: []string{e.Addr.String()},
				NodeName:  ptr(e.Node),
				Conditions: discoveryv1.EndpointConditions{
					Ready: ptr(e.Ready && !e.Terminating), Serving: ptr(e.Ready), Terminating: ptr(e.Terminating),
				},
			}
			for _, z := range e.ForZones {
				if ep.Hints == nil {
					ep.Hints = &discoveryv1.EndpointHints{}
				}
				ep.Hints.ForZones = append(ep.Hints.ForZones, discoveryv1.ForZone{Name: z})
			}
			es.Endpoints = append(es.Endpoints, ep)
		}
		var cur discoveryv1.EndpointSlice
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(es), &cur)
		switch {
		case apierrors.IsNotFound(err):
			err = c.Client.Create(ctx, es)
		case err == nil:
			cur.Endpoints, cur.Ports = es.Endpoints, es.Ports
			err = c.Client.Update(ctx, &cur)
		}
		if err != nil {
			return fmt.Errorf("endpoints of %s/%s: %w", ns, svc, err)
		}
	}
	return nil
}

// AwaitIPs is WaitForIPs bounded by ctx: it waits until the Service shows
// n addresses and returns them.
func (c *Cluster) AwaitIPs(ctx context.Context, ns, name string, n int) ([]netip.Addr, error) {
	return AwaitServiceIPs(ctx, c.Client, ns, name, n)
}

// AwaitServiceIPs waits until the Service, read through cl, shows n
// addresses and returns them (for clusters that are not a Cluster).
func AwaitServiceIPs(ctx context.Context, cl client.Client, ns, name string, n int) ([]netip.Addr, error) {
	var ips []netip.Addr
	err := Poll(ctx, fmt.Sprintf("%d address(es) on %s/%s", n, ns, name), func() error {
		var svc corev1.Service
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			return err
		}
		ips = ips[:0]
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(in.IP); err == nil {
				ips = append(ips, ip)
			}
		}
		if len(ips) != n {
			return fmt.Errorf("status has %v", ips)
		}
		return nil
	})
	return ips, err
}

// AwaitAnnouncer is WaitForAnnouncer bounded by ctx: it waits until the
// ServiceL2Status of a Service IP names a node, and returns it.
func (c *Cluster) AwaitAnnouncer(ctx context.Context, ns, svc string, ip netip.Addr) (string, error) {
	var node string
	err := Poll(ctx, fmt.Sprintf("an announcing node for %s of %s/%s", ip, ns, svc), func() error {
		var list v1beta1.ServiceL2StatusList
		if err := c.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, st := range list.Items {
			if st.Status.ServiceName != svc || st.Status.IP != ip.String() {
				continue
			}
			if st.Status.Node == "" {
				return fmt.Errorf("no node announces: %q", st.Status.Reason)
			}
			node = st.Status.Node
			return nil
		}
		return fmt.Errorf("no ServiceL2Status yet")
	})
	return node, err
}

// Poll runs f every 50 ms until it returns nil or ctx is done; the error
// then names what was awaited and f's last error.
func Poll(ctx context.Context, what string, f func() error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
	}
}
