package jenkins_test

import (
	"slices"
	"testing"

	"github.com/bakehouse/bakehouse/jenkins"
)

// b makes a build: result "" means running.
func b(n int, result string) jenkins.Build {
	return jenkins.Build{Number: n, Result: result, Building: result == ""}
}

func TestNewBuilds(t *testing.T) {
	const ok, failed, unstable, aborted = jenkins.Success, jenkins.Failure, jenkins.Unstable, jenkins.Aborted
	for _, c := range []struct {
		name    string
		cursor  int
		builds  []jenkins.Build
		max     int
		fire    []int
		next    int
		flooded int
	}{
		{name: "first poll records the newest build and fires nothing",
			cursor: jenkins.NoCursor, builds: []jenkins.Build{b(7, ""), b(6, failed), b(5, ok), b(4, ok)}, next: 7},
		{name: "first poll of a job without builds records 0",
			cursor: jenkins.NoCursor, next: 0},
		{name: "a first build after that fires",
			cursor: 0, builds: []jenkins.Build{b(1, ok)}, fire: []int{1}, next: 1},
		{name: "nothing new",
			cursor: 5, builds: []jenkins.Build{b(5, ok), b(4, ok)}, next: 5},
		{name: "a new success fires once",
			cursor: 4, builds: []jenkins.Build{b(5, ok), b(4, ok)}, fire: []int{5}, next: 5},
		{name: "new successes fire oldest first, whatever the list's order",
			cursor: 4, builds: []jenkins.Build{b(6, ok), b(5, ok), b(7, ok), b(4, ok)}, fire: []int{5, 6, 7}, next: 7},
		{name: "failure, unstable and aborted builds pass without firing",
			cursor: 4, builds: []jenkins.Build{b(8, ok), b(7, aborted), b(6, unstable), b(5, failed)}, fire: []int{8}, next: 8},
		{name: "a failure alone moves the cursor",
			cursor: 5, builds: []jenkins.Build{b(6, failed), b(5, ok)}, next: 6},
		{name: "a running build holds the window",
			cursor: 5, builds: []jenkins.Build{b(8, ok), b(7, ""), b(6, ok), b(5, ok)}, fire: []int{6}, next: 6},
		{name: "a running build right above the cursor holds everything",
			cursor: 5, builds: []jenkins.Build{b(7, ok), b(6, "")}, next: 5},
		{name: "once it completes, it and the builds after it fire",
			cursor: 5, builds: []jenkins.Build{b(7, ok), b(6, ok)}, fire: []int{6, 7}, next: 7},
		{name: "running builds below the cursor do not matter",
			cursor: 7, builds: []jenkins.Build{b(8, ok), b(7, ""), b(6, "")}, fire: []int{8}, next: 8},
		{name: "a completed build with no result yet counts as running",
			cursor: 5, builds: []jenkins.Build{{Number: 6}}, next: 5},
		{name: "flood guard at the limit fires all",
			cursor: 0, builds: []jenkins.Build{b(1, ok), b(2, ok), b(3, ok)}, max: 3, fire: []int{1, 2, 3}, next: 3},
		{name: "flood guard over the limit fires none and jumps",
			cursor: 0, builds: []jenkins.Build{b(1, ok), b(2, ok), b(3, ok), b(4, ok), b(5, failed)}, max: 3, next: 5, flooded: 4},
		{name: "flood guard jumps only up to a running build",
			cursor: 0, builds: []jenkins.Build{b(1, ok), b(2, ok), b(3, ok), b(4, ok), b(5, ""), b(6, ok)}, max: 3, next: 4, flooded: 4},
		{name: "failures do not count toward the flood",
			cursor: 0, builds: []jenkins.Build{b(1, failed), b(2, failed), b(3, failed), b(4, ok)}, max: 1, fire: []int{4}, next: 4},
		{name: "no limit",
			cursor: 0, builds: []jenkins.Build{b(1, ok), b(2, ok), b(3, ok), b(4, ok)}, max: -1, fire: []int{1, 2, 3, 4}, next: 4},
		{name: "a job made again (numbers below the cursor) resets without firing",
			cursor: 40, builds: []jenkins.Build{b(2, ok), b(1, ok)}, next: 2},
		{name: "an emptied build list keeps the cursor",
			cursor: 40, next: 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			fire, next, flooded := jenkins.NewBuilds(c.cursor, c.builds, c.max)
			var nums []int
			for _, f := range fire {
				nums = append(nums, f.Number)
			}
			if !slices.Equal(nums, c.fire) || next != c.next || flooded != c.flooded {
				t.Errorf("NewBuilds(%d) = fire %v, next %d, flooded %d; want %v, %d, %d",
					c.cursor, nums, next, flooded, c.fire, c.next, c.flooded)
			}
		})
	}
}
