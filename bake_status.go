package bakehouse

// BakeState is the lifecycle state of a bake, as Rosco reports it.
type BakeState string

const (
	// StateRunning: queued or running Packer. A request with the same key
	// gets this bake back instead of a new one.
	StateRunning BakeState = "RUNNING"
	// StateCompleted: Packer finished; Result says how.
	StateCompleted BakeState = "COMPLETED"
	// StateCanceled: canceled by a user, a rebake, a timeout, a failure
	// before Packer could finish, or restart recovery.
	StateCanceled BakeState = "CANCELED"
)

// BakeResult is the outcome of a finished bake; nil while RUNNING.
type BakeResult string

const (
	ResultSuccess BakeResult = "SUCCESS"
	ResultFailure BakeResult = "FAILURE"
)

// BakeStatus is Rosco's BakeStatus body: exactly these four fields on the
// wire, so Orca parses it unchanged.
type BakeStatus struct {
	ID         string      `json:"id"`
	State      BakeState   `json:"state"`
	Result     *BakeResult `json:"result"`
	ResourceID string      `json:"resource_id"`
}
