package pipeline

// Execution is one run of a pipeline in Orca's execution JSON, the "source"
// a user reads when troubleshooting and what Gate's
// GET /pipelines/{id} answers. Times are epoch milliseconds (0 = not yet,
// written as null as Orca does).
type Execution struct {
	Type             string         `json:"type"` // "PIPELINE"
	ID               string         `json:"id"`
	Application      string         `json:"application"`
	Name             string         `json:"name"`
	PipelineConfigID string         `json:"pipelineConfigId"`
	Status           Status         `json:"status"`
	BuildTime        int64          `json:"buildTime"`
	StartTime        *int64         `json:"startTime"`
	EndTime          *int64         `json:"endTime"`
	Canceled         bool           `json:"canceled"`
	CanceledBy       string         `json:"canceledBy,omitempty"`
	CancelReason     string         `json:"cancellationReason,omitempty"`
	Limit            bool           `json:"limitConcurrent"`
	KeepWaiting      bool           `json:"keepWaitingPipelines"`
	Origin           string         `json:"origin"`
	Trigger          map[string]any `json:"trigger"`
	// Stages are every stage of the run, built from the config when the
	// run starts (a config edited while it runs changes nothing in it),
	// plus the synthetic stages added as it goes.
	Stages []*Stage `json:"stages"`
}

// Stage is one stage of an execution: a configured stage, or a synthetic
// one a stage added (a Bake stage's "Bake in <region>" children).
type Stage struct {
	ID                   string         `json:"id"`
	RefID                string         `json:"refId"`
	Type                 string         `json:"type"`
	Name                 string         `json:"name"`
	Status               Status         `json:"status"`
	StartTime            *int64         `json:"startTime"`
	EndTime              *int64         `json:"endTime"`
	Context              map[string]any `json:"context"`
	Outputs              map[string]any `json:"outputs"`
	Tasks                []*Task        `json:"tasks"`
	ParentStageID        *string        `json:"parentStageId"`
	SyntheticStageOwner  *string        `json:"syntheticStageOwner"`
	RequisiteStageRefIDs []string       `json:"requisiteStageRefIds"`
}

// Task is one step of a stage, as Orca lists them (createBake,
// monitorBake, completedBake...).
type Task struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	ImplementingClass string `json:"implementingClass"`
	Status            Status `json:"status"`
	StartTime         *int64 `json:"startTime"`
	EndTime           *int64 `json:"endTime"`
	StageStart        bool   `json:"stageStart"`
	StageEnd          bool   `json:"stageEnd"`
	LoopStart         bool   `json:"loopStart"`
	LoopEnd           bool   `json:"loopEnd"`
}

// StageBefore is the syntheticStageOwner of a stage that runs before its
// parent's own tasks (a Bake stage's region children).
const StageBefore = "STAGE_BEFORE"
