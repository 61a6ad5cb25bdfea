package kubeapi

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKillEtcdAndRestart: while etcd is dead the API server cannot write;
// restarted, etcd still has what was written before the kill (same data
// dir) and the same API server serves writes again.
func TestKillEtcdAndRestart(t *testing.T) {
	t.Parallel()
	srv := Start(t, Options{SkipCRDs: true})
	cs := srv.Clientset(t)
	ctx := context.Background()
	cm := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pid := srv.etcd.cmd.Process.Pid
	restart := srv.KillEtcd(t)
	if alive(pid) {
		t.Fatalf("etcd (pid %d) still running after KillEtcd", pid)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := cs.CoreV1().ConfigMaps("default").Create(wctx, cm("during"), metav1.CreateOptions{})
	cancel()
	if err == nil {
		t.Fatal("a write succeeded with etcd dead")
	}
	restart()
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "before", metav1.GetOptions{}); err != nil {
		t.Errorf("object written before the kill: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm("after"), metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write within 30 s of the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
