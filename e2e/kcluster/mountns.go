package kcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// guardedSysctls are the global (not per network namespace) sysctls the
// kubelet sets at start (setupKernelTunables), with the values it wants: inside the cluster's
// mount namespace a file holding that value is bind-mounted over each, so
// the kubelet finds it set and the machine's own stays untouched.
var guardedSysctls = [][2]string{
	{"vm/overcommit_memory", "1"},
	{"vm/panic_on_oom", "0"},
	{"kernel/panic", "10"},
	{"kernel/panic_on_oops", "1"},
	// Already at these values on the machines checked, but the kubelet
	// would raise them on one that is not.
	{"kernel/keys/root_maxkeys", "1000000"},
	{"kernel/keys/root_maxbytes", "25000000"},
}

// privateDirs get a tmpfs of their own inside the cluster's mount
// namespace. Below them are the paths every kubelet or containerd would
// otherwise write on the host, each node into the same file: /run/netns
// (containerd 1.6 puts pod network namespaces there), /run/containerd (shim
// sockets), /var/lib/kubelet/device-plugins, /var/lib/cni (CNI results) and
// /var/log/containers. Their parents are mounted over rather than the paths
// themselves because they always exist: creating the paths on the host and
// removing them afterwards would detach the mounts of a second cluster
// running beside this one (rmdir of a mount point in another namespace).
// Nothing the daemons need lives in them (they get their own state
// directories, and named namespaces are opened before nsenter enters this
// namespace).
var privateDirs = []string{"/run", "/var/lib", "/var/log"}

// mountNS is the private mount namespace every node daemon runs in.
type mountNS struct {
	holder  *kubeapi.Child
	nsenter string
}

// newMountNS starts the holder process and prepares the mounts.
func newMountNS(t Tools, dir string) (_ *mountNS, err error) {
	m := &mountNS{nsenter: t.Nsenter}
	defer func() {
		if err != nil {
			err = errors.Join(err, m.close())
		}
	}()
	m.holder, err = kubeapi.StartChild("mount namespace holder", t.Unshare,
		[]string{"--mount", "--propagation", "private", "sleep", "infinity"}, filepath.Join(dir, "holder.log"))
	if err != nil {
		return m, err
	}
	// unshare has switched namespaces once its mount namespace differs
	// from ours.
	self, _ := os.Readlink("/proc/self/ns/mnt")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", m.holder.Pid()))
		if err == nil && ns != self {
			break
		}
		if time.Now().After(deadline) || m.holder.Exited() {
			return m, fmt.Errorf("mount namespace holder did not unshare: %v", m.holder.ExitError())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var script []string
	for _, d := range privateDirs {
		script = append(script, "mount -t tmpfs -o mode=0755 tmpfs "+d)
	}
	for _, s := range guardedSysctls {
		f := filepath.Join(dir, "sysctl-"+strings.ReplaceAll(s[0], "/", "-"))
		if err := os.WriteFile(f, []byte(s[1]+"\n"), 0o644); err != nil {
			return m, err
		}
		script = append(script, "mount --bind "+f+" /proc/sys/"+s[0])
	}
	if out, err := m.command("sh", "-ec", strings.Join(script, "\n")).CombinedOutput(); err != nil {
		return m, fmt.Errorf("preparing the mount namespace: %w: %s", err, out)
	}
	return m, nil
}

// args is the nsenter prefix that runs a program in the mount namespace,
// and in the network namespace netns unless it is empty.
func (m *mountNS) args(netns string, prog ...string) []string {
	a := []string{fmt.Sprintf("--mount=/proc/%d/ns/mnt", m.holder.Pid())}
	if netns != "" {
		a = append(a, "--net=/run/netns/"+netns)
	}
	return append(append(a, "--"), prog...)
}

func (m *mountNS) command(prog ...string) *exec.Cmd {
	return exec.Command(m.nsenter, m.args("", prog...)...)
}

// close kills every process left in the namespace (containerd's shims) and
// ends the holder, so the namespace and its mounts go.
func (m *mountNS) close() error {
	var errs []error
	if m.holder != nil && !m.holder.Exited() {
		errs = append(errs, killMountNS(m.holder.Pid()))
		errs = append(errs, m.holder.Stop(time.Second))
	}
	return errors.Join(errs...)
}

// killMountNS sends SIGKILL to every process but holder in holder's mount
// namespace, and waits until none is left.
func killMountNS(holder int) error {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder))
	if err != nil {
		return fmt.Errorf("mount namespace of %d: %w", holder, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == holder {
				continue
			}
			if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && ns == want {
				left = append(left, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive SIGKILL in the cluster's mount namespace", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
