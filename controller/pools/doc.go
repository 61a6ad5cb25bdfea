// Package pools keeps the controller's configuration current: it compiles
// the ironlb.io objects whenever one changes, installs the objects in force
// in the allocation state, writes every object's Valid condition and last
// valid spec, and writes each IPAddressPool's address counts.
package pools
