package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/ironlbctl/drain"
)

// pollInterval is how often drain re-reads the statuses.
const pollInterval = 250 * time.Millisecond

// drain labels (on) or unlabels the node, then, when draining, waits until
// no ServiceL2Status names it and none of its BGP sessions advertises.
func (e env) drain(ctx context.Context, on bool) int {
	cmd := "drain"
	if !on {
		cmd = "undrain"
	}
	if len(e.args) != 1 {
		return e.fail(2, "%s: want exactly one NODE", cmd)
	}
	nodeName := e.args[0]
	c, err := e.client()
	if err != nil {
		return e.fail(2, "%s: %v", cmd, err)
	}
	var node corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: nodeName}, &node); err != nil {
		return e.fail(2, "%s: get node %s: %v", cmd, nodeName, err)
	}
	var before []drain.Entry
	if on {
		var l2 v1beta1.ServiceL2StatusList
		if err := c.List(ctx, &l2); err != nil {
			return e.fail(2, "%s: list ServiceL2Status: %v", cmd, err)
		}
		before = drain.OnNode(l2.Items, nodeName)
	}
	patch := client.MergeFrom(node.DeepCopy())
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	if on {
		node.Labels[drain.Label] = drain.Value
	} else {
		delete(node.Labels, drain.Label)
	}
	if err := c.Patch(ctx, &node, patch); err != nil {
		return e.fail(2, "%s: label node %s: %v", cmd, nodeName, err)
	}
	if !on {
		fmt.Fprintf(e.stdout, "node %s: label %s removed; it may announce again (layer 2 IPs rebalance onto it)\n", nodeName, drain.Label)
		return 0
	}
	fmt.Fprintf(e.stdout, "node %s: labelled %s=%s; %d layer 2 IPs to move\n", nodeName, drain.Label, drain.Value, len(before))
	if e.timeout <= 0 {
		return 0
	}
	return e.waitDrained(ctx, c, nodeName, before)
}

func (e env) waitDrained(ctx context.Context, c client.Client, nodeName string, before []drain.Entry) int {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	printed := map[string]bool{}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var remaining []drain.Entry
	var bgp []string
	for {
		var l2 v1beta1.ServiceL2StatusList
		var sessions v1beta1.BGPSessionStatusList
		err := c.List(ctx, &l2)
		if err == nil {
			err = c.List(ctx, &sessions)
		}
		if err == nil {
			var moved []drain.Move
			moved, remaining = drain.Progress(before, l2.Items, nodeName)
			for _, m := range moved {
				if s := m.String(); !printed[s] {
					printed[s] = true
					fmt.Fprintln(e.stdout, s)
				}
			}
			bgp = drain.Advertising(sessions.Items, nodeName)
			if len(remaining) == 0 && len(bgp) == 0 {
				fmt.Fprintf(e.stdout, "node %s drained: no layer 2 IP and no BGP route left on it\n", nodeName)
				return 0
			}
		}
		select {
		case <-ctx.Done():
			var still []string
			for _, r := range remaining {
				still = append(still, r.String())
			}
			still = append(still, bgp...)
			msg := fmt.Sprintf("drain: timed out after %v: still on node %s: %s", e.timeout, nodeName, strings.Join(still, ", "))
			if err != nil {
				msg += fmt.Sprintf(" (last read failed: %v)", err)
			}
			return e.fail(1, "%s", msg)
		case <-tick.C:
		}
	}
}
