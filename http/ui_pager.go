package http

import (
	"net/url"

	"github.com/bakehouse/bakehouse"
)

// Paging the UI's long lists (Bakery, Images): newest first, uiPageSize
// rows a page, with "Older" and "Newer" links whose cursor is the id of
// the row the page ends or starts at. An id stays put while new bakes
// arrive, so paging on does not repeat or skip rows the way an offset
// would.

// uiPageSize is how many rows a list page shows.
const uiPageSize = 200

// pager is the links under a list: the URLs of the older and newer pages,
// "" when there is none.
type pager struct {
	Older, Newer string
}

// pageOf selects one page of items (newest first): after before (the
// older page of a page that ended at before), before after (the newer
// page of one that started at after), or from the newest. A cursor that
// is no longer listed is an EINVALID error naming it.
func pageOf[T any](items []T, id func(T) string, before, after string, size int) (page []T, older, newer bool, err error) {
	switch {
	case before != "":
		for i, it := range items {
			if id(it) == before {
				rest := items[i+1:]
				if len(rest) > size {
					return rest[:size], true, true, nil
				}
				return rest, false, true, nil
			}
		}
		return nil, false, false, bakehouse.Invalid("before", "bake %q is no longer in this list (deleted, or the filter changed): start again from the newest", before)
	case after != "":
		for i, it := range items {
			if id(it) == after {
				start := max(0, i-size)
				return items[start:i], i < len(items), start > 0, nil
			}
		}
		return nil, false, false, bakehouse.Invalid("after", "bake %q is no longer in this list (deleted, or the filter changed): start again from the newest", after)
	}
	if len(items) > size {
		return items[:size], true, false, nil
	}
	return items, false, false, nil
}

// pagerFor builds the links of a page of ids, keeping the query's other
// parameters (the filters).
func pagerFor(path string, q url.Values, ids []string, older, newer bool) pager {
	var p pager
	link := func(key, id string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "before" && k != "after" {
				v[k] = vs
			}
		}
		v.Set(key, id)
		return path + "?" + v.Encode()
	}
	if len(ids) == 0 {
		return p
	}
	if older {
		p.Older = link("before", ids[len(ids)-1])
	}
	if newer {
		p.Newer = link("after", ids[0])
	}
	return p
}
