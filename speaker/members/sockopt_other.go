//go:build !linux

package members

func (c packetConn) tune(string) error { return nil }

func (c packetConn) pending() int { return 0 }
