package twitter

import "sort"

// pages is the one paging loop of both clients. fetch reads the page a
// token names ("" for the first) and returns its items and the token of the
// next page ("" at the end). pages reads up to max pages (0: no bound) and
// stops early at a page that brings nothing new (a server that sends the
// same page again must not keep the loop going) or names itself as the
// next. It returns the items, each id once, oldest first (ids are
// snowflakes).
func pages[T any](max int, id func(*T) string, fetch func(token string) ([]T, string, error)) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	token := ""
	for page := 0; max == 0 || page < max; page++ {
		items, next, err := fetch(token)
		if err != nil {
			return nil, err
		}
		before := len(out)
		for i := range items {
			if k := id(&items[i]); k != "" && !seen[k] {
				seen[k] = true
				out = append(out, items[i])
			}
		}
		if next == "" || next == token || len(out) == before {
			break
		}
		token = next
	}
	// sort.Slice: slices.SortFunc would make a sorter of its own for each
	// T (some 8 KiB of the armv6 binary each).
	sort.Slice(out, func(i, j int) bool { return IDLess(id(&out[i]), id(&out[j])) })
	return out, nil
}

func postID(p *Post) string { return p.ID }
func dmID(d *DM) string     { return d.ID }
