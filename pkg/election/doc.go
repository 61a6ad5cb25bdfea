// Package election decides, for layer 2 mode, which node announces each
// Service IP.
//
// Every speaker runs Elect on the same inputs (the Service IPs with the nodes
// eligible for each, and the set of live nodes) and so reaches the same answer
// without talking to the others. Elect is a pure function: no I/O, no clock,
// no randomness, and its result does not depend on the order of its inputs.
//
// The algorithm is rendezvous (highest random weight) hashing with bounded
// loads: every (node, IP) pair gets a pseudo-random score, an IP prefers the
// eligible node with the highest score, and no node takes more than
// ceil(LoadFactor × items × weight/totalWeight) IPs while another eligible
// node still has room. Rendezvous hashing gives minimal disruption (when a
// node leaves, only its own IPs move), and the load bound keeps a node from
// holding far more than its share when the hash is unlucky.
package election
