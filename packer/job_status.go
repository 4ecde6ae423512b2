package packer

import "github.com/bakehouse/bakehouse"

// NoOutput is the log Rosco reports for a job that printed nothing, kept
// so that clients see the same text.
const NoOutput = "No output from command."

// JobStatus maps a finished packer run to the bake's state, result and
// logs as Rosco's local job executor does: exit 0 is COMPLETED/SUCCESS,
// any other exit is CANCELED/FAILURE (Rosco never reports
// COMPLETED/FAILURE for a packer job). logs is the combined output, or
// NoOutput when empty. Only a COMPLETED/SUCCESS bake should be scraped.
func JobStatus(exitCode int, output string) (state bakehouse.BakeState, result *bakehouse.BakeResult, logs string) {
	logs = output
	if logs == "" {
		logs = NoOutput
	}
	r := bakehouse.ResultFailure
	state = bakehouse.StateCanceled
	if exitCode == 0 {
		r = bakehouse.ResultSuccess
		state = bakehouse.StateCompleted
	}
	return state, &r, logs
}
