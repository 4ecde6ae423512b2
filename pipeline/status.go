package pipeline

// Status is Orca's ExecutionStatus, for executions, stages and tasks alike.
// The names are Orca's, so that spin, Deck and scripts written for Gate
// read them unchanged.
type Status string

const (
	NotStarted     Status = "NOT_STARTED"     // waiting for its upstream stages
	Running        Status = "RUNNING"         // started, not finished
	Paused         Status = "PAUSED"          // held by a user
	Suspended      Status = "SUSPENDED"       // waiting on an outside event
	Succeeded      Status = "SUCCEEDED"       // finished and worked
	FailedContinue Status = "FAILED_CONTINUE" // failed, but the pipeline goes on
	Terminal       Status = "TERMINAL"        // failed, and the pipeline stops
	Canceled       Status = "CANCELED"        // stopped by a user (or a rebake)
	Redirect       Status = "REDIRECT"        // a task asked to run its loop again
	Stopped        Status = "STOPPED"         // stopped, counted as success downstream
	Buffered       Status = "BUFFERED"        // queued behind a concurrent run
	Skipped        Status = "SKIPPED"         // not run; the pipeline goes on
)

// Complete reports whether s is final: nothing more happens to a stage or
// an execution in it.
func (s Status) Complete() bool {
	switch s {
	case Succeeded, FailedContinue, Terminal, Canceled, Stopped, Skipped:
		return true
	}
	return false
}

// Halts reports whether a stage in s stops the stages that depend on it,
// as Orca's isHalt: they never start.
func (s Status) Halts() bool {
	return s == Terminal || s == Canceled || s == Stopped
}

// Passes reports whether a stage in s lets its downstream stages start.
func (s Status) Passes() bool {
	return s == Succeeded || s == FailedContinue || s == Skipped
}

// Valid reports whether s is one of Orca's statuses.
func (s Status) Valid() bool {
	switch s {
	case NotStarted, Running, Paused, Suspended, Succeeded, FailedContinue, Terminal,
		Canceled, Redirect, Stopped, Buffered, Skipped:
		return true
	}
	return false
}
