package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/presence"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/hostnet"
	"github.com/ironlb/ironlb/speaker/l2sync"
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=ironlb-system

// presenceWriter, while this speaker is the status writer, renews the
// speakers' presence Lease (so the controller knows a speaker runs) and
// marks the BGP sessions of dead speakers as down: their own speaker can no
// longer say so, and a session is never shown Established when nothing
// holds it. With each renewal it publishes on the Lease the nodes the
// liveness protocol holds dead (presence.DeadNodesAnnotation), whose
// endpoints the datapath sets aside, so operators and ironlbctl see them.
type presenceWriter struct {
	client    client.Client // writes, and cached reads of BGPSessionStatus
	api       client.Reader // uncached reads of the Lease
	namespace string
	node      string
	alive     func() []string
	dead      func() map[string]time.Time // nodes held dead, and since when
	ready     func() bool                 // false until the speaker has heard its peers
	// linkUp reports whether this node's link to the other speakers is
	// up. A node cut off from the LAN sees every other speaker dead and
	// would make itself the writer: it must not mark their sessions down
	// or keep the Lease alive for a cluster it cannot speak for.
	linkUp func() bool
	log    logr.Logger

	lease *coordinationv1.Lease // as last written; nil: read it first
}

// Run renews every presence.RenewPeriod until ctx ends.
func (p *presenceWriter) Run(ctx context.Context) error {
	t := time.NewTicker(presence.RenewPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		alive := p.alive()
		if !p.ready() || !p.linkUp() || l2sync.StatusWriter(alive) != p.node {
			p.lease = nil
			continue
		}
		if err := p.renew(ctx); err != nil && ctx.Err() == nil {
			p.log.V(1).Info("presence lease", "error", err.Error())
		}
		if err := p.markDead(ctx, alive); err != nil && ctx.Err() == nil {
			p.log.V(1).Info("sessions of dead speakers", "error", err.Error())
		}
	}
}

func (p *presenceWriter) renew(ctx context.Context) error {
	now := metav1.NewMicroTime(time.Now())
	if p.lease == nil {
		var l coordinationv1.Lease
		err := p.api.Get(ctx, client.ObjectKey{Namespace: p.namespace, Name: presence.LeaseName}, &l)
		switch {
		case apierrors.IsNotFound(err):
			l = coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: presence.LeaseName}}
			l.Spec = p.spec(now)
			p.annotate(&l)
			if err := p.client.Create(ctx, &l); err != nil {
				return fmt.Errorf("create lease: %w", err)
			}
			p.lease = &l
			return nil
		case err != nil:
			return fmt.Errorf("read lease: %w", err)
		}
		p.lease = &l
	}
	p.lease.Spec = p.spec(now)
	p.annotate(p.lease)
	if err := p.client.Update(ctx, p.lease); err != nil {
		p.lease = nil // read it again next time (a conflict, or deleted)
		return fmt.Errorf("renew lease: %w", err)
	}
	return nil
}

// annotate sets the dead nodes on the Lease (removes the annotation when
// there are none), in the same write as the renewal.
func (p *presenceWriter) annotate(l *coordinationv1.Lease) {
	v := ""
	if p.dead != nil {
		v = presence.FormatDeadNodes(p.dead())
	}
	if v == "" {
		delete(l.Annotations, presence.DeadNodesAnnotation)
		return
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[presence.DeadNodesAnnotation] = v
}

func (p *presenceWriter) spec(now metav1.MicroTime) coordinationv1.LeaseSpec {
	secs := int32(presence.Timeout / time.Second)
	if secs < 1 {
		secs = 1
	}
	return coordinationv1.LeaseSpec{HolderIdentity: &p.node, LeaseDurationSeconds: &secs, RenewTime: &now}
}

// markDead sets the sessions of speakers that are not alive to Idle.
func (p *presenceWriter) markDead(ctx context.Context, alive []string) error {
	var list v1beta1.BGPSessionStatusList
	if err := p.client.List(ctx, &list); err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		st := &list.Items[i]
		if slices.Contains(alive, st.Status.Node) || st.Status.State != string(bgp.StateEstablished) {
			continue
		}
		now := metav1.Now()
		st.Status.State = string(bgp.StateIdle)
		st.Status.EstablishedSince = nil
		st.Status.LastError = fmt.Sprintf("the speaker of node %s is not running", st.Status.Node)
		st.Status.LastErrorTime = &now
		if err := p.client.Update(ctx, st); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d updates failed, first: %w", len(errs), errs[0])
	}
	return nil
}

// bindLinkUp returns a check that the interface holding addr is up and has
// a carrier (true when no interface holds it, e.g. a wildcard bind, or the
// host cannot be read).
func bindLinkUp(host *hostnet.Cache, addr netip.Addr) func() bool {
	return func() bool {
		links, err := host.Links()
		if err != nil {
			return true
		}
		for _, l := range links {
			for _, p := range l.Prefixes {
				if p.Addr() == addr.Unmap() {
					return l.Flags&net.FlagUp != 0 && l.Flags&net.FlagRunning != 0
				}
			}
		}
		return true
	}
}
