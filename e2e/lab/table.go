package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
)

// row is one Service IP in the table.
type row struct {
	Service    string // namespace/name
	Policy     string // Cluster or Local
	IP         string
	Pool       string
	Mode       string
	Announcers []string
	OK         bool   // the request from the client was answered
	Pod        string // who answered
	Source     string // the address the pod saw, and whose it is
	Err        string // why the request failed
	Note       string // a problem besides the request, printed below
}

// poolAnnotation is written by the controller with the address.
const poolAnnotation = "ironlb.io/ip-allocated-from-pool"

// collect builds the table: every LoadBalancer Service IP in the cluster,
// who announces it, and a live request to it through ask (from the
// client), with up to tries attempts each.
func collect(ctx context.Context, v view, ms []mode, ask asker, tries int) ([]row, error) {
	var list corev1.ServiceList
	if err := v.API.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	svcs := list.Items
	sort.Slice(svcs, func(i, j int) bool {
		return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name
	})
	var rows []row
	for i := range svcs {
		svc := &svcs[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		base := row{Service: svc.Namespace + "/" + svc.Name, Policy: policy(svc), Pool: svc.Annotations[poolAnnotation]}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			base.IP, base.Err = "-", "no address assigned yet"
			rows = append(rows, base)
			continue
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			r := base
			r.IP = in.IP
			r.Mode = "?"
			ip, err := netip.ParseAddr(in.IP)
			if err != nil {
				r.Err = fmt.Sprintf("bad address %q", in.IP)
				rows = append(rows, r)
				continue
			}
			if m := modeOfPool(ms, r.Pool); m != nil {
				r.Mode = m.Name()
				if r.Announcers, err = m.Announcers(ctx, v, svc.Namespace, svc.Name, ip); err != nil {
					// The request below is still worth making.
					r.Announcers, r.Note = []string{"?"}, "announcers: "+err.Error()
				}
			}
			port, ok := tcpPort(svc)
			if !ok {
				r.Err = "no TCP port to ask"
				rows = append(rows, r)
				continue
			}
			a, err := askRetry(ctx, ask, ip, port, tries)
			if err != nil {
				r.Err = err.Error()
			} else {
				r.OK, r.Pod, r.Source = true, a.Pod, describe(a.Seen, v.Names)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func tcpPort(svc *corev1.Service) (uint16, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolTCP || p.Protocol == "" {
			return uint16(p.Port), true
		}
	}
	return 0, false
}

// describe names the host holding an address the pod saw.
func describe(a netip.Addr, names map[string]string) string {
	if who := names[a.String()]; who != "" {
		return fmt.Sprintf("%s (%s)", a, who)
	}
	return a.String()
}

// tableHeader starts the table; parseTable looks for it.
var tableHeader = []string{"SERVICE", "POLICY", "IP", "POOL", "MODE", "ANNOUNCED-BY", "REQUEST", "ANSWERED-BY", "SOURCE-SEEN-BY-POD"}

// render prints the table, then the reason of every failed request.
func render(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t"))
	for _, r := range rows {
		result, pod, src := "FAIL", "-", "-"
		if r.OK {
			result, pod, src = "ok", r.Pod, r.Source
		}
		fmt.Fprintln(tw, strings.Join([]string{
			r.Service, r.Policy, r.IP, dash(r.Pool), dash(r.Mode), dash(strings.Join(r.Announcers, ",")), result, pod, src,
		}, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		for _, msg := range []string{r.Err, r.Note} {
			if msg != "" {
				fmt.Fprintf(w, "  ! %s %s: %s\n", r.Service, r.IP, msg)
			}
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseTable reads the rows back from printed output (for the test, and
// for anyone scripting around `make lab`).
func parseTable(out string) ([]row, error) {
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == len(tableHeader) && strings.Join(f, " ") == strings.Join(tableHeader, " ") {
			start = i + 1
		}
	}
	if start < 0 {
		return nil, errors.New("no table header in the output")
	}
	var rows []row
	for _, l := range lines[start:] {
		f := strings.Fields(l)
		if len(f) < len(tableHeader) || strings.HasPrefix(l, " ") {
			break
		}
		r := row{Service: f[0], Policy: f[1], IP: f[2], Pool: undash(f[3]), Mode: undash(f[4]), OK: f[6] == "ok"}
		if a := undash(f[5]); a != "" {
			r.Announcers = strings.Split(a, ",")
		}
		if r.OK {
			r.Pod, r.Source = f[7], strings.Join(f[8:], " ")
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
