package vm

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// DefaultModules are loaded in every VM: IPVS with the schedulers IronLB
// offers, connection tracking and NAT, the nf_tables expressions IronLB's
// tables use, and the link types tests build topologies from.
var DefaultModules = []string{
	"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_mh",
	"nf_conntrack", "nf_conntrack_netlink", "nf_nat",
	"nf_tables", "nft_ct", "nft_nat", "nft_masq", "nft_chain_nat", "nft_reject", "nft_reject_inet",
	"veth", "dummy", "bridge",
}

// moduleDeps is a parsed modules.dep: module path (relative to
// /lib/modules/<version>) -> its dependencies' paths.
type moduleDeps struct {
	deps   map[string][]string
	byName map[string]string // "ip_vs" -> "kernel/net/netfilter/ipvs/ip_vs.ko"
}

func parseModulesDep(r io.Reader) (*moduleDeps, error) {
	md := &moduleDeps{deps: map[string][]string{}, byName: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no colon: %q", n, line)
		}
		md.deps[mod] = strings.Fields(rest)
		md.byName[moduleName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return md, nil
}

// moduleName is what modprobe calls a module: the file name without .ko
// (and compression suffix), with dashes as underscores.
func moduleName(p string) string {
	b := path.Base(p)
	b, _, _ = strings.Cut(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

// loadOrder returns the paths of the named modules and everything they
// depend on, each after its dependencies. Unknown names are an error naming
// them (a module that is built into the kernel is not in modules.dep; list
// only real modules).
func (md *moduleDeps) loadOrder(names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(p string, stack []string) error
	visit = func(p string, stack []string) error {
		if seen[p] {
			return nil
		}
		if slices.Contains(stack, p) {
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(stack, " -> "), p)
		}
		deps, ok := md.deps[p]
		if !ok {
			return fmt.Errorf("%s is needed by %s but not in modules.dep", p, stack[len(stack)-1])
		}
		for _, d := range deps {
			if err := visit(d, append(stack, p)); err != nil {
				return err
			}
		}
		seen[p] = true
		out = append(out, p)
		return nil
	}
	var unknown []string
	for _, n := range names {
		p, ok := md.byName[strings.ReplaceAll(n, "-", "_")]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if err := visit(p, nil); err != nil {
			return nil, err
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("modules not found in modules.dep: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// subset renders modules.dep for only the given modules, so busybox modprobe
// inside the guest knows them.
func (md *moduleDeps) subset(paths []string) []byte {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "%s:", p)
		for _, d := range md.deps[p] {
			b.WriteString(" " + d)
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}
