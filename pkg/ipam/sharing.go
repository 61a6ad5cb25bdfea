package ipam

import (
	"fmt"
	"slices"
	"strings"
)

// shareInfo is what decides whether two Services may share an IP.
type shareInfo struct {
	key     string
	ports   []Port
	local   bool
	backend string // only meaningful when local
}

func shareInfoOf(req *Request) shareInfo {
	s := shareInfo{key: req.SharingKey, ports: slices.Clone(req.Ports), local: req.Local}
	if req.Local {
		s.backend = req.Backend
	}
	return s
}

// sameKey reports whether a and b carry the same non-empty sharing key.
// Holders with different keys conflict outright (IPInUse); holders with the
// same key conflict only on ports or backend (SharingConflict).
func sameKey(a, b shareInfo) bool { return a.key != "" && a.key == b.key }

// shareConflict returns why a (the newcomer) and b (a current holder) may
// not hold the same IP, or "".
func shareConflict(a, b shareInfo) string {
	switch {
	case a.key == "" && b.key == "":
		return "neither service has a sharing key"
	case a.key == "":
		return "this service has no sharing key"
	case b.key == "":
		return "that service has no sharing key"
	case a.key != b.key:
		return fmt.Sprintf("sharing keys differ (%q vs %q)", a.key, b.key)
	}
	if a.local != b.local {
		return "one service has externalTrafficPolicy Local and the other Cluster"
	}
	if a.local && a.backend != b.backend {
		return fmt.Sprintf("services with externalTrafficPolicy Local must select the same pods (%q vs %q)", a.backend, b.backend)
	}
	for _, p := range a.ports {
		for _, q := range b.ports {
			if p.Port == q.Port && strings.EqualFold(p.Protocol, q.Protocol) {
				return fmt.Sprintf("both use port %s", p)
			}
		}
	}
	return ""
}
