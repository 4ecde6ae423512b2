package jenkins

import "slices"

// NoCursor is the cursor of a job that was never polled.
const NoCursor = -1

// NewBuilds applies Igor's polling rules to one poll of a job. cursor is
// the number of the last build already dealt with (NoCursor before the
// first poll); builds is the job's build list in any order. It returns the
// builds to fire, oldest first, the cursor to store, and how many builds
// the flood guard held back (0 normally). It does no I/O.
//
// The rules:
//   - The first poll of a job only records its newest build, running or
//     not (0 for a job with no builds): builds that existed before the
//     trigger never fire.
//   - Builds above the cursor are taken oldest first. A completed build
//     moves the cursor past it, so it is dealt with once; only SUCCESS
//     fires, other results (UNSTABLE, FAILURE, ABORTED, NOT_BUILT) pass
//     silently.
//   - A running build holds the window: the cursor stops below it and
//     builds newer than it wait until it completes. (Igor, whose cursor
//     is a timestamp plus per-build "event posted" markers, fires a newer
//     completed build at once; a single build number cannot remember
//     that, so here it fires when the older one ends.)
//   - Flood guard: when more than maxPerPoll builds would fire (a long
//     outage, a cursor far behind), none fires and the cursor jumps past
//     them, as Igor's monitor does when an operator fast-forwards a
//     partition over its itemUpperThreshold. maxPerPoll <= 0 means no
//     limit.
//   - When the newest build is below the cursor the job was deleted and
//     made again (numbers restart): the cursor is reset to the newest
//     build, as on a first poll. (Igor's timestamp cursor needs no such
//     rule.)
func NewBuilds(cursor int, builds []Build, maxPerPoll int) (fire []Build, next int, flooded int) {
	newest := 0
	for _, b := range builds {
		newest = max(newest, b.Number)
	}
	if cursor < 0 || (len(builds) > 0 && newest < cursor) {
		return nil, newest, 0
	}
	sorted := slices.Clone(builds)
	slices.SortFunc(sorted, func(a, b Build) int { return a.Number - b.Number })
	next = cursor
	for _, b := range sorted {
		if b.Number <= cursor {
			continue
		}
		if b.Building || b.Result == "" {
			break
		}
		next = b.Number
		if b.Result == Success {
			fire = append(fire, b)
		}
	}
	if maxPerPoll > 0 && len(fire) > maxPerPoll {
		return nil, next, len(fire)
	}
	return fire, next, 0
}
