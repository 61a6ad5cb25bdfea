// Package hostnet keeps what the speaker reads of the host's network: its
// links with their flags and addresses, and which of them carry a default
// route. The kernel is read again only after it announced a change to
// links, addresses or routes (netlink notifications) since the last read,
// so a reconcile on a node whose network is still costs no system call
// here. Before, every layer 2 reconcile dumped every link and, per link,
// every address, and the check of the liveness link did it once more: on
// a node with a veth per pod that grew with the square of its pods.
package hostnet
