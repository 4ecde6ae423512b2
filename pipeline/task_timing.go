package pipeline

import "time"

// TaskTiming is Orca's cadence for a bake or find-image task: how long to
// wait between runs of a task that answered RUNNING (backoff) and how
// long it may keep running before the stage fails (timeout). createBake
// 30 s / 5 min; monitorBake 30 s / 1 h, or the stage's stageTimeoutMs
// (tasks.monitor-bake.timeout-millis in Orca); findImage 10 s / 10 min.
// ok is false for a task Orca gives no cadence.
func TaskTiming(task string, s *Stage) (backoff, timeout time.Duration, ok bool) {
	switch task {
	case TaskCreateBake:
		return 30 * time.Second, 5 * time.Minute, true
	case TaskMonitorBake:
		timeout = time.Hour
		if s != nil {
			if ms, isInt := toInt(s.Context["stageTimeoutMs"]); isInt && ms > 0 {
				timeout = time.Duration(ms) * time.Millisecond
			}
		}
		return 30 * time.Second, timeout, true
	case TaskFindImage:
		return 10 * time.Second, 10 * time.Minute, true
	}
	return 0, 0, false
}
