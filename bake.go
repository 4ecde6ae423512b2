package bakehouse

// Bake is the result of a finished bake: Rosco's Bake body plus
// Bakehouse's extras (Orca ignores fields it does not know).
type Bake struct {
	ID        string     `json:"id"`
	AMI       string     `json:"ami"`
	ImageName string     `json:"image_name"`
	Regions   []string   `json:"regions"`
	Artifact  *Artifact  `json:"artifact"`
	Artifacts []Artifact `json:"artifacts,omitempty"`
	BaseAMI   string     `json:"base_ami,omitempty"`
}
