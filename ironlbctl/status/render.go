package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Write prints the report as two aligned tables.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range r.Invalid {
		fmt.Fprintf(tw, "%s %q is invalid; %s:\n", o.Kind, o.Name, o.Summary)
		for _, e := range o.Errors {
			fmt.Fprintf(tw, "  %s\n", e)
		}
	}
	if len(r.Invalid) > 0 {
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "POOL\tFAMILY\tTOTAL\tASSIGNED\tAVAILABLE\tVALID")
	for _, p := range r.Pools {
		valid := p.Valid
		if valid == "" {
			valid = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Pool, p.Family, count(p.Total), count(p.Assigned), count(p.Available), valid)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tIP\tPOOL\tMODE\tANNOUNCED BY\tDATAPATH\tENDPOINTS\tLOCAL NODES\tSOURCE RANGES\tANSWERING")
	for _, s := range r.Services {
		local := "-"
		if s.Local {
			local = strings.Join(s.LocalNodes, ",")
			if local == "" {
				local = "(none)"
			}
		}
		pool := s.Pool
		if pool == "" {
			pool = "-"
		}
		sources := s.SourceRanges
		if len(s.SourceRangeProblems) > 0 {
			sources += fmt.Sprintf(" (%d invalid entries)", len(s.SourceRangeProblems))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Service, s.IP, pool, s.Mode, s.Announcer, s.Datapath, s.Endpoints, local, sources, s.Answering)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// What does not answer, and why, under the table (too long for a column).
	for _, s := range r.Services {
		if s.Answering == "NO" {
			fmt.Fprintf(w, "%s %s does not answer: %s\n", s.Service, s.IP, s.AnsweringMessage)
		}
	}
	return nil
}
