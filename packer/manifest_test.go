package packer

import "testing"

func TestManifestAMIs(t *testing.T) {
	data := []byte(`{"builds":[
	  {"name":"amazon-ebs","builder_type":"amazon-ebs","build_time":1,"files":null,"artifact_id":"us-east-1:ami-0old","packer_run_uuid":"run-1","custom_data":null},
	  {"name":"amazon-ebs","builder_type":"amazon-ebs","build_time":2,"files":null,"artifact_id":"us-east-1:ami-0abc3,us-west-2:ami-0abc2","packer_run_uuid":"run-2","custom_data":null}],
	 "last_run_uuid":"run-2"}`)
	got := ManifestAMIs(data)
	if len(got) != 2 || got[0].Location != "us-east-1" || got[0].Reference != "ami-0abc3" || got[1].Location != "us-west-2" ||
		got[1].Reference != "ami-0abc2" || got[0].Type != "aws/image" {
		t.Fatalf("ManifestAMIs = %+v", got)
	}
	if ManifestAMIs([]byte("not json")) != nil || ManifestAMIs([]byte(`{"builds":[{"builder_type":"docker","artifact_id":"sha256:x"}]}`)) != nil {
		t.Fatal("unreadable or non-AMI manifests must give nil")
	}
}
