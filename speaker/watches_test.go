package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestPeerWatchPassesOnlyAddressChanges(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}

	heartbeat := node.DeepCopy()
	heartbeat.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Unix(100, 0))
	heartbeat.Labels = map[string]string{"rack": "r1"}
	moved := node.DeepCopy()
	moved.Status.Addresses[0].Address = "192.0.2.2"

	tests := []struct {
		name string
		old  *corev1.Node
		new  *corev1.Node
		want bool
	}{
		{"heartbeat and labels only", node, heartbeat, false},
		{"InternalIP changed", node, moved, true},
		{"address added", node, func() *corev1.Node {
			n := node.DeepCopy()
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "2001:db8::1"})
			return n
		}(), true},
	}
	for _, tc := range tests {
		if got := addressesChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: passed = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !addressesChanged.Create(event.CreateEvent{Object: node}) || !addressesChanged.Delete(event.DeleteEvent{Object: node}) {
		t.Error("a Node joining or leaving must reach the peer list")
	}
}
