package config

import (
	"fmt"
	"strconv"
	"strings"
)

// community is one parsed community value: standard or large.
type community struct {
	large    bool
	standard uint32
	lg       LargeCommunity
}

// String formats c in the syntax parseCommunity reads.
func (c community) String() string {
	if c.large {
		return c.lg.String()
	}
	return fmt.Sprintf("%d:%d", c.standard>>16, c.standard&0xffff)
}

// String returns "large:A:B:C".
func (c LargeCommunity) String() string {
	return fmt.Sprintf("large:%d:%d:%d", c.GlobalAdmin, c.LocalData1, c.LocalData2)
}

// isCommunityLiteral reports whether s is meant as a literal value rather
// than an alias name: alias names may not contain ':' (see
// compileCommunities), literals always do.
func isCommunityLiteral(s string) bool { return strings.Contains(s, ":") }

// parseCommunity parses a standard community "A:B" (RFC 1997, two 16-bit
// decimal numbers) or a large community "large:A:B:C" (RFC 8092, three
// 32-bit decimal numbers). The error does not repeat s.
func parseCommunity(s string) (community, error) {
	if rest, ok := strings.CutPrefix(s, "large:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) != 3 {
			return community{}, fmt.Errorf("a large community has three numbers, large:A:B:C")
		}
		var v [3]uint32
		for i, p := range parts {
			n, err := parseDecimal(p, 32)
			if err != nil {
				return community{}, fmt.Errorf("large community part %d: %w", i+1, err)
			}
			v[i] = uint32(n)
		}
		return community{large: true, lg: LargeCommunity{v[0], v[1], v[2]}}, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 2 {
		return community{}, fmt.Errorf("expected a standard community A:B, a large community large:A:B:C, or an alias name (which has no ':')")
	}
	hi, err := parseDecimal(parts[0], 16)
	if err != nil {
		return community{}, fmt.Errorf("standard community first part: %w", err)
	}
	lo, err := parseDecimal(parts[1], 16)
	if err != nil {
		return community{}, fmt.Errorf("standard community second part: %w", err)
	}
	return community{standard: uint32(hi)<<16 | uint32(lo)}, nil
}

// parseDecimal parses an unsigned decimal of at most bits bits, rejecting
// signs, spaces and empty strings (which strconv alone would partly accept).
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s does not fit in %d bits", s, bits)
	}
	return n, nil
}
