package vlan

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
)

// Options says what a lab holds.
type Options struct {
	// Nodes is the number of "node" hosts (node1, node2, ...); 0 means 3.
	Nodes int
	// Clients is the number of "client" hosts (client1, ...); 0 means 1.
	Clients int
	// Router adds a "router" host at .1 (FRR runs there in BGP tests).
	Router bool
	// ID tells this lab's namespaces apart from other labs of the same
	// process: names are "ilb-<pid>-<ID>-<host>". Empty means a random
	// 6-hex-digit ID. Lowercase letters, digits and '-', at most 16.
	ID string
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,15}$`)

// withDefaults fills defaults and checks ranges; errors name the field.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Nodes < 0 || o.Nodes > MaxNodes:
		return o, fmt.Errorf("vlan: Options.Nodes: %d is outside 0..%d", o.Nodes, MaxNodes)
	case o.Clients < 0 || o.Clients > MaxClients:
		return o, fmt.Errorf("vlan: Options.Clients: %d is outside 0..%d", o.Clients, MaxClients)
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Clients == 0 {
		o.Clients = 1
	}
	if o.ID == "" {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return o, fmt.Errorf("vlan: random lab ID: %w", err)
		}
		o.ID = hex.EncodeToString(b[:])
	}
	if !idPattern.MatchString(o.ID) {
		return o, fmt.Errorf("vlan: Options.ID: %q must match %s", o.ID, idPattern)
	}
	return o, nil
}
