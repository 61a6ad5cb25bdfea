// Package pools keeps the controller's configuration current: it compiles
// the ironlb.io objects whenever one changes, installs a valid result in the
// allocation state (or keeps the last valid one and reports what is wrong),
// and writes each IPAddressPool's status.
package pools
