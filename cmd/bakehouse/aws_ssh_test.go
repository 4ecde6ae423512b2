package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
	"github.com/bakehouse/bakehouse/docker/dockertest"
)

// TestAWSBakeOverSSH bakes with the SHIPPED aws-ebs.json, unchanged: the
// ssh communicator logs in to the double's instance (a container without a
// network, see ec2test.DockerMachines) and the shell provisioner runs
// install_packages.sh with sudo -E, which installs the sample package from
// the bakery's repository (bind-mounted read-only at /bakehouse/repo, what
// debianRepository names) as it would on EC2. The AMI is the instance's
// disk, so the test runs what the bake installed.
func TestAWSBakeOverSSH(t *testing.T) {
	for _, tool := range []string{"packer", "docker", "mmdebstrap", "dpkg-deb", "dpkg-scanpackages"} {
		if _, err := exec.LookPath(tool); err != nil {
			dockertest.SkipOrFail(t, "%s not installed", tool)
		}
	}
	c := dockertest.MustEngine(t)
	dockertest.MustSSHImage(t, c)
	// Packer dials port 22 of the instance's address: where this process
	// cannot listen there, the test runs in a network namespace of its own.
	if reran, err := ec2test.OwnNetworkForSSH(t); err != nil {
		dockertest.SkipOrFail(t, "%v", err)
	} else if reran {
		return
	}

	dataDir := t.TempDir()
	machines := &ec2test.DockerMachines{
		Docker: c,
		Image:  dockertest.SSHImage,
		Mounts: []ec2test.Mount{{Source: filepath.Join(dataDir, "repo"), Target: "/bakehouse/repo"}},
	}
	d := ec2test.New(t, ec2test.Quiet(), ec2test.WithMachines(machines))
	srv := startServer(t, dataDir, awsSSHConfig, doubleEnv(t, d))
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))

	start := time.Now()
	st := bakeAndWait(t, srv, awsRequest)
	took := time.Since(start)
	logs := logsOf(t, srv, st.ID)
	console := func() string {
		var b strings.Builder
		for _, inst := range d.Instances() {
			b.WriteString(machines.Console(inst.ID))
		}
		return b.String()
	}
	if st.State != "COMPLETED" || st.Result == nil || *st.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s\ninstance console:\n%s", st, logs, console())
	}
	t.Logf("bake over SSH took %s", took.Round(time.Millisecond))
	for _, want := range []string{
		"Waiting for SSH to become available...",
		"Connected to SSH!",
		"Provisioning with shell script: " + filepath.Join(dataDir, "templates", "install_packages.sh"),
		"repository=[trusted=yes] file:/bakehouse/repo ./",
		"packages=armory-hello-deploy=0.5.0-h5.c4baff4",
		"Setting up armory-hello-deploy (0.5.0-h5.c4baff4)",
		"Stopping the source instance...",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("bake log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("bake log:\n%s\ninstance console:\n%s", logs, console())
	}

	var details map[string]any
	call(t, "GET", srv.url+"/api/v1/us-west-2/bake/"+st.ID, nil, &details)
	ami, _ := details["ami"].(string)
	if !strings.HasPrefix(ami, "ami-") || details["image_name"] != "armory-hello-deploy-all-20170329204459-trusty" {
		t.Fatalf("bake details: %v", details)
	}

	// The instance logged in with the key pair Packer created, as ubuntu.
	insts := d.Instances()
	if len(insts) != 1 || insts[0].State != "terminated" || !strings.HasPrefix(insts[0].PublicIP, "127.") {
		t.Fatalf("instances: %+v", insts)
	}
	if !strings.Contains(logs, "Using ssh communicator to connect: "+insts[0].PublicIP+"\n") {
		t.Errorf("Packer did not connect to the instance's public address %s", insts[0].PublicIP)
	}
	if con := machines.Console(insts[0].ID); !strings.Contains(con, "Accepted publickey for ubuntu") {
		t.Errorf("no SSH login on the instance's console:\n%s", con)
	}
	if k, g := d.KeyPairs(), d.SecurityGroups(); len(k)+len(g) != 0 {
		t.Errorf("left behind: key pairs %v, security groups %v", k, g)
	}
	// No container is left: Packer terminated the instance.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if left := dockertest.MustDocker(t, c, "ps", "--all", "--quiet", "--filter", "label="+ec2test.LabelRun+"="+machines.RunID()); strings.TrimSpace(left) != "" {
		t.Errorf("containers left after the bake: %s", left)
	}
	// The AMI is the instance's disk: the package is installed in it.
	disk := machines.DiskImage(ami)
	if disk == "" {
		t.Fatalf("AMI %s has no captured disk", ami)
	}
	out, err := c.RunImage(ctx, disk, "sh", "-c", "dpkg-query -W -f '${Version}' armory-hello-deploy; echo; hello-deploy")
	if err != nil || out != "0.5.0-h5.c4baff4\nhello deploy 0.5.0-h5.c4baff4\n" {
		t.Fatalf("the AMI's disk: %v %q", err, out)
	}
}

// awsSSHConfig is an AWS bakery whose templates are the shipped ones
// (rosco.configDir unset: DATA_DIR/templates) and whose instances install
// from the bakery's repository, mounted into them at /bakehouse/repo.
var awsSSHConfig = awsConfigWith("", "[trusted=yes] file:/bakehouse/repo ./")
