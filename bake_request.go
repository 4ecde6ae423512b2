package bakehouse

// BakeRequest is a request to bake a machine image, in Rosco's wire format
// (snake_case JSON). Unknown fields are ignored when decoding because Orca
// sends extra ones.
type BakeRequest struct {
	RequestID          string             `json:"request_id,omitempty"`
	User               string             `json:"user,omitempty"`
	Package            string             `json:"package,omitempty"` // space-separated list
	PackageArtifacts   []Artifact         `json:"package_artifacts,omitempty"`
	BuildHost          string             `json:"build_host,omitempty"`
	Job                string             `json:"job,omitempty"`
	BuildNumber        string             `json:"build_number,omitempty"`
	CommitHash         string             `json:"commit_hash,omitempty"`
	BuildInfoURL       string             `json:"build_info_url,omitempty"`
	CloudProviderType  string             `json:"cloud_provider_type,omitempty"` // aws, docker, ...
	BaseLabel          string             `json:"base_label,omitempty"`          // release, candidate, previous, unstable, foundation
	BaseOS             string             `json:"base_os,omitempty"`
	BaseName           string             `json:"base_name,omitempty"`
	BaseAMI            string             `json:"base_ami,omitempty"`
	VMType             string             `json:"vm_type,omitempty"`    // hvm, pv
	StoreType          string             `json:"store_type,omitempty"` // ebs, s3, docker
	EnhancedNetworking *bool              `json:"enhanced_networking,omitempty"`
	AMIName            string             `json:"ami_name,omitempty"`
	AMISuffix          string             `json:"ami_suffix,omitempty"`
	Upgrade            *bool              `json:"upgrade,omitempty"`
	InstanceType       string             `json:"instance_type,omitempty"`
	Organization       string             `json:"organization,omitempty"`
	TemplateFileName   string             `json:"template_file_name,omitempty"`
	ExtendedAttributes ExtendedAttributes `json:"extended_attributes,omitempty"`
	VarFileName        string             `json:"var_file_name,omitempty"`
	AccountName        string             `json:"account_name,omitempty"`
	// SpinnakerExecutionID is the pipeline execution that asked for the
	// bake (Orca's X-SPINNAKER-EXECUTION-ID header, or this field), kept
	// so that the execution's bakes can be deleted together.
	SpinnakerExecutionID string `json:"spinnaker_execution_id,omitempty"`
}

// Artifact is the subset of a Spinnaker (kork) artifact that a bake reads
// or reports.
type Artifact struct {
	Type      string         `json:"type,omitempty"`
	Name      string         `json:"name,omitempty"`
	Version   string         `json:"version,omitempty"`
	Reference string         `json:"reference,omitempty"`
	Location  string         `json:"location,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	UUID      string         `json:"uuid,omitempty"`
}
