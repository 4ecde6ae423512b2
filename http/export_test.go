package http

// RouteInfo is one route of the table, for the external tests.
type RouteInfo struct {
	Pattern string
	Mutates bool
}

// Routes lists routeTable, so that tests cover every route, including the
// ones added later.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, r := range routeTable {
		out = append(out, RouteInfo{Pattern: r.pattern, Mutates: r.access == mutates})
	}
	return out
}
