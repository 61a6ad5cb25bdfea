package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// startProcessLab starts the process lab: etcd, kube-apiserver, the virtual
// LAN (3 nodes, a client, a router), the controller and a speaker per node.
// Its pods serve until podCtx is done.
func startProcessLab(ctx, podCtx context.Context, cfg serveConfig, step func(string)) (*backend, error) {
	step("starting etcd, kube-apiserver, the virtual LAN (3 nodes, a client, a router), the controller and a speaker per node")
	c, err := cluster.StartProcess(ctx, cluster.Options{
		Router:         true,
		Datapath:       "auto",
		ControllerArgs: []string{"-ip-mode", "Proxy"},
		// Debug logs of a lab that runs for days would fill the disk.
		SpeakerArgs: []string{"-log-level", "info"},
		LogDir:      cfg.state.logDir(),
	}, cluster.ProcessOptions{
		Binaries: cluster.Binaries{Controller: filepath.Join(cfg.binDir, "controller"), Speaker: filepath.Join(cfg.binDir, "speaker")},
		LabID:    "lab",
	})
	if err != nil {
		return nil, err
	}
	step(fmt.Sprintf("cluster up: API server %s, LAN %s", c.API.URL, c.Lab.Name))
	return &backend{
		API: c.Client, Lab: c.Lab, URL: c.API.URL, Kubeconfig: c.API.Kubeconfig,
		deploy: func(ctx context.Context, s demoService, svc *corev1.Service) (string, error) {
			return deployProcessPods(ctx, podCtx, c, s, svc)
		},
		close: c.Close,
	}, nil
}

// deployProcessPods starts s's pods as namespaces on their nodes, writes
// their Pod objects as a kubelet would, creates svc and its EndpointSlices.
func deployProcessPods(ctx, podCtx context.Context, c *cluster.Cluster, s demoService, svc *corev1.Service) (string, error) {
	var pods []*cluster.Pod
	for _, dp := range s.Pods {
		p, err := c.StartPodProcess(podCtx, dp.Node, dp.Name)
		if err != nil {
			return "", err
		}
		obj, status := podObject(p, s.Name, c.NodeAddr(dp.Node, false))
		if err := c.Client.Create(ctx, obj); err != nil {
			return "", fmt.Errorf("create pod %s: %w", dp.Name, err)
		}
		obj.Status = status
		if err := c.Client.Status().Update(ctx, obj); err != nil {
			return "", fmt.Errorf("pod %s status: %w", dp.Name, err)
		}
		pods = append(pods, p)
	}
	if err := c.Client.Create(ctx, svc); err != nil {
		return "", fmt.Errorf("create service %s: %w", s.Name, err)
	}
	if err := c.ApplyEndpoints(ctx, demoNamespace, s.Name, cluster.Endpoints(pods...)...); err != nil {
		return "", err
	}
	return "pods " + podList(s.Pods), nil
}

// podObject is a Pod as a kubelet would report it, so `kubectl get pods
// -o wide` shows where the demo's pods run. Nothing runs it: the pod is a
// network namespace with the echo server.
func podObject(p *cluster.Pod, app string, nodeIP netip.Addr) (*corev1.Pod, corev1.PodStatus) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: p.Name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName: p.Node,
			Containers: []corev1.Container{{
				Name: "echo", Image: "ironlb.io/lab-echo",
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "udp", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
				},
			}},
		},
	}
	now := metav1.Now()
	status := corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    nodeIP.String(),
		PodIP:     p.Host.IPv4.Addr().String(),
		PodIPs:    []corev1.PodIP{{IP: p.Host.IPv4.Addr().String()}, {IP: p.Host.IPv6.Addr().String()}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "echo", Image: "ironlb.io/lab-echo", ImageID: "ironlb.io/lab-echo",
			Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	return pod, status
}
