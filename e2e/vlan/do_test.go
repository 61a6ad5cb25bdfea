package vlan

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// threadNetNS is the network namespace of the calling OS thread, as the
// "net:[inode]" link text.
func threadNetNS() (string, error) {
	return os.Readlink("/proc/thread-self/ns/net")
}

// nsLink is the "net:[inode]" text for a named namespace.
func nsLink(t *testing.T, name string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}

func TestDoRunsInsideNamespace(t *testing.T) {
	lab := New(t, Options{Nodes: 1})
	node := lab.Nodes[0]
	want := nsLink(t, node.NetNS)
	var ifaces []net.Interface
	var inside string
	err := node.Do(func() error {
		var err error
		if inside, err = threadNetNS(); err != nil {
			return err
		}
		ifaces, err = net.Interfaces()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != want {
		t.Fatalf("Do ran in %s, want %s (%s)", inside, want, node.NetNS)
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
		if i.Name == "eth0" && i.HardwareAddr.String() != node.MAC.String() {
			t.Errorf("eth0 inside has MAC %s, want %s", i.HardwareAddr, node.MAC)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"eth0", "lo"}) {
		t.Fatalf("interfaces inside %s: %v, want [eth0 lo]", node.NetNS, names)
	}

	// Errors pass through; panics come back to the caller.
	sentinel := errors.New("sentinel")
	if err := node.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("Do returned %v, want the function's error", err)
	}
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "boom") {
				t.Fatalf("recovered %v, want the panic from inside Do", p)
			}
		}()
		_ = node.Do(func() error { panic("boom") })
	}()
}

func TestDoNeverLeavesThreadsInNamespace(t *testing.T) {
	lab := New(t, Options{Nodes: 2})
	orig, err := threadNetNS()
	if err != nil {
		t.Fatal(err)
	}
	inNode := map[string]bool{nsLink(t, lab.Nodes[0].NetNS): true, nsLink(t, lab.Nodes[1].NetNS): true}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the goroutines pin their thread, so "before" and "after"
			// are about the very same thread.
			if g%2 == 0 {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			for i := 0; i < 50; i++ {
				h := lab.Nodes[(g+i)%2]
				before, err := threadNetNS()
				if err != nil {
					errs <- err
					return
				}
				var inside string
				err = h.Do(func() error {
					var err error
					inside, err = threadNetNS()
					return err
				})
				after, err2 := threadNetNS()
				switch {
				case err != nil || err2 != nil:
					errs <- errors.Join(err, err2)
					return
				case !inNode[inside]:
					errs <- fmt.Errorf("Do for %s ran in %s", h.Name, inside)
					return
				case before != orig || after != orig:
					errs <- fmt.Errorf("calling thread went from %s to %s (original %s)", before, after, orig)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// No thread of the whole process may be left in a lab namespace.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		link, err := os.Readlink(filepath.Join("/proc/self/task", task.Name(), "ns/net"))
		if err != nil {
			continue // thread exited
		}
		if link != orig {
			t.Errorf("thread %s is in %s, want %s", task.Name(), link, orig)
		}
	}
}
