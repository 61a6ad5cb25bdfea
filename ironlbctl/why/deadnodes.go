package why

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/pkg/presence"
)

// setAsideReasons says which endpoints of svc the datapath sets aside
// because the speakers hold their node dead. The nodes come from the
// speakers' presence Lease (presence.DeadNodesAnnotation, written by the
// status writer); which endpoints that sets aside is the datapath's own
// decision (datapath.SetAsideOnDeadNodes), not a rule restated here.
func setAsideReasons(s *snapshot.Snapshot, svc *corev1.Service, now time.Time) []Reason {
	l := s.Speakers
	if l == nil {
		return nil
	}
	leaseName := l.Namespace + "/" + l.Name
	since, err := presence.ParseDeadNodes(l.Annotations[presence.DeadNodesAnnotation])
	if err != nil {
		return []Reason{{Code: DeadNodesUnreadable, Message: fmt.Sprintf("Lease %s: %v", leaseName, err)}}
	}
	if len(since) == 0 {
		return nil
	}
	dead := make(map[string]bool, len(since))
	for n := range since {
		dead[n] = true
	}
	aside := datapath.SetAsideOnDeadNodes(datapath.Inputs{Services: []*corev1.Service{svc}, EndpointSlices: s.EndpointPtrs(), DeadNodes: dead})
	if len(aside) == 0 {
		return nil
	}
	r := Reason{Code: EndpointsSetAside, Message: fmt.Sprintf(
		"%d endpoint(s) of Service %s/%s get no new connections from any node's datapath while a ready endpoint on a live node is left: the speakers hold their node dead (Lease %s, annotation %s); they serve again when it is back",
		len(aside), svc.Namespace, svc.Name, leaseName, presence.DeadNodesAnnotation)}
	if stale := staleFor(l.Spec.RenewTime, l.Spec.LeaseDurationSeconds, now); stale > 0 {
		r.Message += fmt.Sprintf("; the Lease was last renewed %v ago, so this is what the last speaker to write it saw", stale.Round(time.Second))
	}
	for _, a := range aside {
		r.Details = append(r.Details, fmt.Sprintf("%s: set aside: node %s's speaker is held dead since %s",
			a.Endpoint, a.Node, since[a.Node].UTC().Format(time.RFC3339)))
	}
	return []Reason{r}
}

// staleFor is how long ago a Lease renewed at renew was last renewed, when
// that is longer than its duration (0 otherwise, or when unknown). now is
// the reader's clock, so skew between it and the writer's counts too.
func staleFor(renew *metav1.MicroTime, seconds *int32, now time.Time) time.Duration {
	if renew == nil || seconds == nil || now.IsZero() {
		return 0
	}
	if ago := now.Sub(renew.Time); ago > time.Duration(*seconds)*time.Second {
		return ago
	}
	return 0
}
