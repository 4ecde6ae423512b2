package ec2test_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/bakehouse/bakehouse/aws/ec2test"
)

// sdk returns an aws-sdk-go-v2 EC2 client of the double, signing for
// region. It keeps the SDK's retries: on a loaded machine a response is
// now and then lost in transit ("use of closed network connection"), and
// the SDK retries it as it would against EC2 (4xx errors are not retried).
func sdk(srv *ec2test.Server, region string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:           region,
		BaseEndpoint:     awssdk.String(srv.Endpoint()),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEC2TEST", "secret", ""),
		RetryMaxAttempts: 3,
	})
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: awssdk.String(name), Values: values}
}

// The Packer call sequence, made with aws-sdk-go-v2: every answer decodes,
// and the state moves as EC2's does.
func TestBakeSequenceWithSDK(t *testing.T) {
	srv := ec2test.New(t)
	ctx := context.Background()
	west, east := sdk(srv, "us-west-2"), sdk(srv, "us-east-1")

	regions, err := west.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil || len(regions.Regions) != 7 {
		t.Fatalf("DescribeRegions: %v, %+v", err, regions)
	}
	pre, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", amiName)}})
	if err != nil || len(pre.Images) != 0 {
		t.Fatalf("pre-check: %v, %+v", err, pre)
	}
	src, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ec2test.SourceAMI}})
	if err != nil || len(src.Images) != 1 || awssdk.ToString(src.Images[0].Name) != ec2test.SourceAMIName ||
		src.Images[0].RootDeviceType != types.DeviceTypeEbs || awssdk.ToString(src.Images[0].CreationDate) != "2017-02-02T19:28:31.000Z" {
		t.Fatalf("source: %v, %+v", err, src)
	}
	key, err := west.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: awssdk.String("packer_k1")})
	if err != nil || awssdk.ToString(key.KeyName) != "packer_k1" || !strings.Contains(awssdk.ToString(key.KeyMaterial), "PRIVATE KEY") {
		t.Fatalf("CreateKeyPair: %v, %+v", err, key)
	}
	if _, err := west.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: awssdk.String("packer_k1")}); apiCode(err) != "InvalidKeyPair.Duplicate" {
		t.Errorf("duplicate key pair: %v", err)
	}
	sg, err := west.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("packer_g1"), Description: awssdk.String("Temporary group for Packer")})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := west.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{*sg.GroupId}})
	if err != nil || len(groups.SecurityGroups) != 1 || awssdk.ToString(groups.SecurityGroups[0].GroupName) != "packer_g1" {
		t.Fatalf("DescribeSecurityGroups: %v, %+v", err, groups)
	}
	if _, err := west.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
		IpPermissions: []types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(0), ToPort: awssdk.Int32(0),
			IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	run, err := west.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String(ec2test.SourceAMI), InstanceType: types.InstanceTypeT2Micro,
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), KeyName: key.KeyName, SecurityGroupIds: []string{*sg.GroupId},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("Packer Builder")}}}}})
	if err != nil || len(run.Instances) != 1 {
		t.Fatalf("RunInstances: %v", err)
	}
	id := awssdk.ToString(run.Instances[0].InstanceId)
	state := func() (types.InstanceStateName, types.Instance) {
		t.Helper()
		out, err := west.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
			t.Fatalf("DescribeInstances: %v, %+v", err, out)
		}
		i := out.Reservations[0].Instances[0]
		return i.State.Name, i
	}
	if s, _ := state(); s != types.InstanceStateNamePending {
		t.Errorf("first poll: %s", s)
	}
	s, inst := state()
	if s != types.InstanceStateNameRunning || awssdk.ToString(inst.KeyName) != "packer_k1" ||
		awssdk.ToString(inst.PublicIpAddress) != "127.0.0.1" || awssdk.ToString(inst.ImageId) != ec2test.SourceAMI ||
		awssdk.ToString(inst.SecurityGroups[0].GroupId) != *sg.GroupId || awssdk.ToString(inst.Tags[0].Value) != "Packer Builder" ||
		awssdk.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId) == "" {
		t.Errorf("running instance = %s %+v", s, inst)
	}
	if _, err := west.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); apiCode(err) != "DependencyViolation" {
		t.Errorf("deleting a group in use: %v", err)
	}
	stop, err := west.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if err != nil || stop.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Fatalf("StopInstances: %v %+v", err, stop)
	}
	if s, _ := state(); s != types.InstanceStateNameStopped {
		t.Errorf("after stop: %s", s)
	}

	created, err := west.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: &id, Name: awssdk.String(amiName)})
	if err != nil {
		t.Fatal(err)
	}
	ami := awssdk.ToString(created.ImageId)
	if _, err := west.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: &id, Name: awssdk.String(amiName)}); apiCode(err) != "InvalidAMIName.Duplicate" {
		t.Errorf("second CreateImage of the name: %v", err)
	}
	image := func(c *ec2.Client, id string) types.Image {
		t.Helper()
		out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil || len(out.Images) != 1 {
			t.Fatalf("DescribeImages %s: %v", id, err)
		}
		return out.Images[0]
	}
	if img := image(west, ami); img.State != types.ImageStatePending {
		t.Errorf("first poll: %s", img.State)
	}
	img := image(west, ami)
	if img.State != types.ImageStateAvailable || awssdk.ToString(img.Name) != amiName || awssdk.ToString(img.OwnerId) != ec2test.Account ||
		len(img.BlockDeviceMappings) != 2 || awssdk.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId) == "snap-0abc1234567890001" {
		t.Errorf("created image = %+v", img)
	}

	cp, err := east.CopyImage(ctx, &ec2.CopyImageInput{SourceRegion: awssdk.String("us-west-2"), SourceImageId: &ami, Name: awssdk.String(amiName)})
	if err != nil {
		t.Fatal(err)
	}
	copyID := awssdk.ToString(cp.ImageId)
	if copyID == ami || image(east, copyID).State != types.ImageStateAvailable {
		t.Errorf("copy %s of %s", copyID, ami)
	}
	// The copy lives in us-east-1 only.
	if _, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{copyID}}); apiCode(err) != "InvalidAMIID.NotFound" {
		t.Errorf("copy seen in us-west-2: %v", err)
	}
	for c, id := range map[*ec2.Client]string{west: ami, east: copyID} {
		if _, err := c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: &id, UserIds: []string{"210987654321"},
			LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: awssdk.String("210987654321")}}}}); err != nil {
			t.Fatal(err)
		}
		snap := image(c, id).BlockDeviceMappings[0].Ebs.SnapshotId
		if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id, *snap},
			Tags: []types.Tag{{Key: awssdk.String("appversion"), Value: awssdk.String("app-1.0")}}}); err != nil {
			t.Fatal(err)
		}
	}
	tagged, err := east.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{filter("tag:appversion", "app-*")}})
	if err != nil || len(tagged.Images) != 1 || awssdk.ToString(tagged.Images[0].ImageId) != copyID {
		t.Errorf("by tag in us-east-1: %v, %+v", err, tagged)
	}

	if _, err := west.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := state(); s != types.InstanceStateNameTerminated {
		t.Errorf("after terminate: %s", s)
	}
	vols, err := west.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("volume-id", "vol-x")}})
	if err != nil || len(vols.Volumes) != 0 {
		t.Errorf("DescribeVolumes: %v %+v", err, vols)
	}
	if _, err := west.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); err != nil {
		t.Error(err)
	}
	if _, err := west.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: key.KeyName}); err != nil {
		t.Error(err)
	}
	if k, g := srv.KeyPairs(), srv.SecurityGroups(); len(k)+len(g) != 0 {
		t.Errorf("left: %v %v", k, g)
	}
	for _, img := range []string{ami, copyID} {
		var found *ec2test.Image
		for _, i := range srv.Images() {
			if i.ID == img {
				found = &i
			}
		}
		if found == nil || found.Tags["appversion"] != "app-1.0" || !slices.Equal(found.LaunchPermissions, []string{"210987654321"}) {
			t.Errorf("image %s = %+v", img, found)
		}
	}
}

// Generated ids are unique per image and region.
func TestUniqueIDs(t *testing.T) {
	srv := ec2test.New(t, ec2test.PendingPolls(0), ec2test.Quiet())
	ctx := context.Background()
	west := sdk(srv, "us-west-2")
	run, err := west.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String(ec2test.SourceAMI), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	note := func(id, what string) {
		t.Helper()
		if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s share id %s", prev, what, id)
		}
		ids[id] = what
	}
	note(ec2test.SourceAMI, "source")
	for _, name := range []string{"img-a", "img-b"} {
		out, err := west.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: awssdk.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		note(*out.ImageId, name)
		for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
			cp, err := sdk(srv, region).CopyImage(ctx, &ec2.CopyImageInput{SourceRegion: awssdk.String("us-west-2"), SourceImageId: out.ImageId, Name: awssdk.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			note(*cp.ImageId, name+"@"+region)
		}
	}
	snaps := map[string]bool{}
	for _, img := range srv.Images() {
		for _, s := range img.SnapshotIDs() {
			if snaps[s] {
				t.Errorf("snapshot %s shared", s)
			}
			snaps[s] = true
		}
	}
	if len(ids) != 9 || len(srv.ImagesNamed("img-a")) != 4 {
		t.Errorf("ids = %v", ids)
	}
}

func TestDescribeImagesFilters(t *testing.T) {
	srv := ec2test.New(t, ec2test.Quiet())
	a := srv.AddImage(ec2test.Image{Name: "app-a", Tags: map[string]string{"appversion": "app-1.0/app/1", "team": "x"}})
	b := srv.AddImage(ec2test.Image{Name: "app-b", Tags: map[string]string{"appversion": "app-2.0/app/2"}, VirtualizationType: "paravirtual"})
	shared := srv.AddImage(ec2test.Image{Name: "app-shared", Owner: "210987654321", LaunchPermissions: []string{ec2test.Account}})
	srv.AddImage(ec2test.Image{Name: "app-hidden", Owner: "210987654321"})
	amazon := srv.AddImage(ec2test.Image{Name: "amzn-ami", Owner: "137112412989", OwnerAlias: "amazon", Public: true})
	ctx := context.Background()
	west := sdk(srv, "us-west-2")
	ids := func(in *ec2.DescribeImagesInput) []string {
		t.Helper()
		out, err := west.DescribeImages(ctx, in)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		var got []string
		for _, i := range out.Images {
			got = append(got, *i.ImageId)
		}
		slices.Sort(got)
		return got
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeImagesInput
		want []string
	}{
		{"name wildcard", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "app-*")}}, sorted(a.ID, b.ID, shared.ID)},
		{"name exact", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "app-a")}}, []string{a.ID}},
		{"name values or", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "app-a", "app-b")}}, sorted(a.ID, b.ID)},
		{"filters and", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "app-*"), filter("virtualization-type", "hvm")}}, sorted(a.ID, shared.ID)},
		{"tag", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:appversion", "app-2.0/app/2")}}, []string{b.ID}},
		{"tag wildcard", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:appversion", "app-?.0/*")}}, sorted(a.ID, b.ID)},
		{"tag-key", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag-key", "team")}}, []string{a.ID}},
		{"owner self", &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{filter("name", "app-*")}}, sorted(a.ID, b.ID)},
		{"owner id", &ec2.DescribeImagesInput{Owners: []string{"210987654321"}}, []string{shared.ID}},
		{"owner alias", &ec2.DescribeImagesInput{Owners: []string{"amazon"}}, []string{amazon.ID}},
		{"owners or", &ec2.DescribeImagesInput{Owners: []string{ec2test.CanonicalOwner, "amazon"}}, sorted(amazon.ID, ec2test.SourceAMI)},
		{"image-id filter", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("image-id", a.ID, "ami-0000")}}, []string{a.ID}},
		{"image ids", &ec2.DescribeImagesInput{ImageIds: []string{b.ID, a.ID}}, sorted(a.ID, b.ID)},
	} {
		if got := ids(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	_, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{a.ID, "ami-0abc1234567899999"}})
	if apiCode(err) != "InvalidAMIID.NotFound" || !strings.Contains(err.Error(), "The image id '[ami-0abc1234567899999]' does not exist") {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"bogus"}}); apiCode(err) != "InvalidAMIID.Malformed" {
		t.Errorf("malformed id: %v", err)
	}
	if _, err := west.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("colour", "red")}}); apiCode(err) != "InvalidParameterValue" {
		t.Errorf("unknown filter: %v", err)
	}
}

func TestFailures(t *testing.T) {
	srv := ec2test.New(t, ec2test.FailAction("RunInstances", ec2test.InstanceLimitExceeded), ec2test.Quiet())
	ctx := context.Background()
	west := sdk(srv, "us-west-2")
	run := &ec2.RunInstancesInput{ImageId: awssdk.String(ec2test.SourceAMI), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)}
	_, err := west.RunInstances(ctx, run)
	var re interface{ HTTPStatusCode() int }
	if apiCode(err) != "InstanceLimitExceeded" || !errors.As(err, &re) || re.HTTPStatusCode() != 400 ||
		!strings.Contains(err.Error(), "0abc0021-5b1e-4c7d-9f2a-000000000021") {
		t.Errorf("injected: %v", err)
	}
	srv.SetFailure("RunInstances", "UnauthorizedOperation")
	if _, err := west.RunInstances(ctx, run); apiCode(err) != "UnauthorizedOperation" || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Errorf("SetFailure: %v", err)
	}
	srv.SetFailure("RunInstances", "")
	if _, err := west.RunInstances(ctx, run); err != nil {
		t.Errorf("after clearing: %v", err)
	}
	// A missing source image fails RunInstances naturally. (A new call:
	// the SDK stored its idempotency token in run.)
	run.ImageId = awssdk.String(ec2test.MissingAMI)
	run.ClientToken = nil
	if _, err := west.RunInstances(ctx, run); apiCode(err) != "InvalidAMIID.NotFound" {
		t.Errorf("missing image: %v", err)
	}
	// An SDK retry of a lost response repeats the call as it was: count
	// it once.
	var calls []ec2test.Call
	for _, c := range srv.CallsTo("RunInstances") {
		if n := len(calls); n > 0 && calls[n-1].Status == 200 && c.Status == 200 && calls[n-1].Form.Encode() == c.Form.Encode() {
			continue
		}
		calls = append(calls, c)
	}
	if len(calls) != 4 || calls[0].Code != "InstanceLimitExceeded" || calls[0].Status != 400 || calls[0].Fixture != ec2test.InstanceLimitExceeded ||
		calls[1].Status != 403 || calls[2].Status != 200 || calls[3].Code != "InvalidAMIID.NotFound" {
		t.Errorf("calls = %+v", calls)
	}

	// Unknown actions and unsigned requests get EC2's errors; the headers
	// are EC2's.
	post := func(auth string, form url.Values) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.Endpoint(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	auth := "AWS4-HMAC-SHA256 Credential=AKIDEC2TEST/20240101/eu-central-1/ec2/aws4_request, SignedHeaders=host, Signature=00"
	res, body := post(auth, url.Values{"Action": {"DescribeVpcs"}, "Version": {"2016-11-15"}})
	if res.StatusCode != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") || res.Header.Get("Server") != "AmazonEC2" ||
		res.Header.Get("Content-Type") != "text/xml;charset=UTF-8" || !strings.Contains(body, res.Header.Get("x-amzn-RequestId")) {
		t.Errorf("unknown action: %d %v %s", res.StatusCode, res.Header, body)
	}
	res, body = post("", url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}})
	if res.StatusCode != 401 || !strings.Contains(body, "AuthFailure") {
		t.Errorf("unsigned: %d %s", res.StatusCode, body)
	}
	res, body = post(auth, url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}})
	if res.StatusCode != 200 || !strings.Contains(body, "0abc0018-5b1e-4c7d-9f2a-000000000018") {
		t.Errorf("DescribeRegions: %d %s", res.StatusCode, body)
	}
	last := srv.Calls()[len(srv.Calls())-1]
	if last.Region != "eu-central-1" || last.Fixture != "DescribeRegions.xml" || strings.Contains(last.Form.Encode(), "AKIDEC2TEST") {
		t.Errorf("last call = %+v", last)
	}
}
