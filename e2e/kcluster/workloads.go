package kcluster

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestServerPort is where the test server listens in its pods.
const TestServerPort = 8080

// TestServerDeployment is a Deployment of the test server labelled
// app=<name>, spread so that no node has two replicas more than another
// (replicas = nodes gives one pod per node).
func TestServerDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: corev1.LabelHostname,
						WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:     &metav1.LabelSelector{MatchLabels: labels},
					}},
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name:            "server",
						Image:           TestServer,
						ImagePullPolicy: corev1.PullNever,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: TestServerPort}},
						Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
						}}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstrPort(TestServerPort)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
}

// WaitPodsReady waits until n pods in ns match selector, every one Running
// and Ready, and returns them.
func (c *Cluster) WaitPodsReady(ctx context.Context, ns, selector string, n int) ([]corev1.Pod, error) {
	var last string
	for {
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			ready := 0
			last = ""
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && PodReady(&p) {
					ready++
				} else {
					last += fmt.Sprintf(" %s on %q: %s %s;", p.Name, p.Spec.NodeName, p.Status.Phase, waitingReason(&p))
				}
			}
			if ready == n && len(pods.Items) == n {
				return pods.Items, nil
			}
			last = fmt.Sprintf("%d of %d ready:%s", ready, len(pods.Items), last)
		} else {
			last = err.Error()
		}
		for _, nd := range c.nodes {
			if err := nd.exited(); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pods %s in %s: want %d Running and Ready: %s", selector, ns, n, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// PodReady reports whether p's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitingReason is why a pod's containers are not running, for messages.
func waitingReason(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if w := s.State.Waiting; w != nil {
			return w.Reason + ": " + w.Message
		}
		if t := s.State.Terminated; t != nil {
			return fmt.Sprintf("terminated %s (exit %d)", t.Reason, t.ExitCode)
		}
	}
	return ""
}

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
