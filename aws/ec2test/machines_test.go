package ec2test_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/bakehouse/bakehouse/aws/ec2test"
	"github.com/bakehouse/bakehouse/docker/dockertest"
)

// fakeMachines records the double's Machines calls; its "sshd" answers a
// banner naming the instance.
type fakeMachines struct {
	release chan struct{} // Boot waits for it

	mu     sync.Mutex
	booted []ec2test.Machine
	calls  []string
	fail   bool // Boot fails
	closed bool
}

func (f *fakeMachines) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeMachines) Boot(ctx context.Context, m ec2test.Machine) error {
	f.mu.Lock()
	f.booted = append(f.booted, m)
	fail := f.fail
	f.mu.Unlock()
	f.record("Boot " + m.InstanceID)
	select {
	case <-f.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if fail {
		return errors.New("no capacity today")
	}
	return nil
}

func (f *fakeMachines) ServeSSH(ctx context.Context, id string, conn net.Conn) {
	fmt.Fprintf(conn, "SSH-2.0-fake_%s\r\n", id)
	conn.Close()
}

func (f *fakeMachines) Stop(ctx context.Context, id string) error {
	f.record("Stop " + id)
	return nil
}

func (f *fakeMachines) Capture(ctx context.Context, id, ami string) error {
	f.record("Capture " + id + " " + ami)
	return nil
}

func (f *fakeMachines) Terminate(ctx context.Context, id string) error {
	f.record("Terminate " + id)
	return nil
}

func (f *fakeMachines) Close(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeMachines) snapshot() ([]ec2test.Machine, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.booted), slices.Clone(f.calls)
}

// banner dials ip's SSH port and returns the first line served ("" when
// the connection is refused or closed without one).
func banner(t *testing.T, ip string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "22"), 5*time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// needSSHPort reports whether the test must return: it ran in a network
// namespace of its own (see OwnNetworkForSSH) or was skipped.
func needSSHPort(t *testing.T) (reran bool) {
	t.Helper()
	reran, err := ec2test.OwnNetworkForSSH(t)
	if err != nil {
		dockertest.SkipOrFail(t, "%v", err)
	}
	return reran
}

// waitState polls DescribeInstances until the instance is in state.
func waitState(t *testing.T, c *ec2.Client, id string, state types.InstanceStateName) types.Instance {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		inst := out.Reservations[0].Instances[0]
		if inst.State.Name == state {
			return inst
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s is %s, not %s", id, inst.State.Name, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runInstance(t *testing.T, c *ec2.Client, ami, key string) string {
	t.Helper()
	in := &ec2.RunInstancesInput{ImageId: awssdk.String(ami), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), InstanceType: types.InstanceTypeT2Micro}
	if key != "" {
		in.KeyName = awssdk.String(key)
	}
	out, err := c.RunInstances(context.Background(), in)
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	return awssdk.ToString(out.Instances[0].InstanceId)
}

func dashed(ip string) string { return strings.ReplaceAll(ip, ".", "-") }

// The double's side of WithMachines: states follow the machine, each
// instance's own addresses serve its SSH while it runs, key pairs are real
// and their public half reaches the machine, images remember their disk.
func TestMachinesLifecycle(t *testing.T) {
	if needSSHPort(t) {
		return
	}
	fm := &fakeMachines{release: make(chan struct{})}
	var left []string
	t.Cleanup(func() { // runs after the double's own cleanup
		_, calls := fm.snapshot()
		fm.mu.Lock()
		closed := fm.closed
		fm.mu.Unlock()
		if len(left) == 0 {
			return
		}
		if !closed || !slices.Contains(calls, "Terminate "+left[0]) {
			t.Errorf("at shutdown: closed %v, calls %v, want %s terminated", closed, calls, left)
		}
	})
	srv := ec2test.New(t, ec2test.Quiet(), ec2test.WithMachines(fm), ec2test.PendingPolls(0))
	west, east := sdk(srv, "us-west-2"), sdk(srv, "us-east-1")
	ctx := context.Background()

	key, err := west.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: awssdk.String("packer_k1")})
	if err != nil {
		t.Fatal(err)
	}
	material := awssdk.ToString(key.KeyMaterial)
	if !strings.HasPrefix(material, "-----BEGIN RSA PRIVATE KEY-----\n") || strings.Contains(material, "EXAMPLE") ||
		len(strings.Split(awssdk.ToString(key.KeyFingerprint), ":")) != 20 {
		t.Fatalf("CreateKeyPair: not a real key: %q %q", material, awssdk.ToString(key.KeyFingerprint))
	}

	id := runInstance(t, west, ec2test.SourceAMI, "packer_k1")
	waitState(t, west, id, types.InstanceStateNamePending)
	waitState(t, west, id, types.InstanceStateNamePending) // still booting
	close(fm.release)
	inst := waitState(t, west, id, types.InstanceStateNameRunning)
	pub, priv := awssdk.ToString(inst.PublicIpAddress), awssdk.ToString(inst.PrivateIpAddress)
	if !strings.HasPrefix(pub, "127.") || !strings.HasPrefix(priv, "127.") || pub == priv || pub == "127.0.0.1" ||
		awssdk.ToString(inst.PublicDnsName) != "ec2-"+dashed(pub)+".us-west-2.compute.amazonaws.com" ||
		awssdk.ToString(inst.PrivateDnsName) != "ip-"+dashed(priv)+".us-west-2.compute.internal" {
		t.Fatalf("addresses: %s %s %s %s", pub, priv, awssdk.ToString(inst.PublicDnsName), awssdk.ToString(inst.PrivateDnsName))
	}
	booted, _ := fm.snapshot()
	m := booted[0]
	if m.InstanceID != id || m.ImageID != ec2test.SourceAMI || m.Disk != "" || m.KeyName != "packer_k1" ||
		m.PublicIP != pub || m.PrivateIP != priv || m.Hostname != "ip-"+dashed(priv) || !strings.HasPrefix(m.PublicKey, "ssh-rsa AAAAB3NzaC1yc2E") {
		t.Fatalf("machine: %+v", m)
	}
	if got := srv.Instances()[0]; got.PublicIP != pub || got.PrivateIP != priv {
		t.Fatalf("Instances: %+v", got)
	}
	// The public key is the private key's, as ssh-keygen derives it.
	if kg, err := exec.LookPath("ssh-keygen"); err == nil {
		f := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(f, []byte(material), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(kg, "-y", "-f", f).Output()
		if err != nil || strings.TrimSpace(string(out)) != strings.TrimSuffix(m.PublicKey, " packer_k1") {
			t.Fatalf("ssh-keygen -y: %v\n%s\nwant %s", err, out, m.PublicKey)
		}
	}
	for _, ip := range []string{pub, priv} {
		if b := banner(t, ip); b != "SSH-2.0-fake_"+id {
			t.Fatalf("%s:22 answered %q", ip, b)
		}
	}

	if _, err := west.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if b := banner(t, pub); b != "" {
		t.Fatalf("a stopped instance answered %q", b)
	}
	img, err := west.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: awssdk.String(id), Name: awssdk.String("baked")})
	if err != nil {
		t.Fatal(err)
	}
	ami := awssdk.ToString(img.ImageId)
	cp, err := east.CopyImage(ctx, &ec2.CopyImageInput{SourceRegion: awssdk.String("us-west-2"), SourceImageId: img.ImageId, Name: awssdk.String("baked")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := west.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", net.JoinHostPort(pub, "22"), time.Second); err == nil {
		t.Fatalf("a terminated instance's address still listens")
	}

	// An instance of the copy boots the captured disk; no key pair, no key.
	id2 := runInstance(t, east, awssdk.ToString(cp.ImageId), "")
	waitState(t, east, id2, types.InstanceStateNameRunning)
	left = append(left, id2)
	booted, calls := fm.snapshot()
	if m := booted[1]; m.Disk != ami || m.ImageID != awssdk.ToString(cp.ImageId) || m.PublicKey != "" || m.Region != "us-east-1" {
		t.Fatalf("machine of the copy: %+v", m)
	}
	want := []string{"Boot " + id, "Stop " + id, "Capture " + id + " " + ami, "Terminate " + id, "Boot " + id2}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}

	// A machine that fails to boot: the instance ends terminated.
	fm.mu.Lock()
	fm.fail = true
	fm.mu.Unlock()
	id3 := runInstance(t, west, ec2test.SourceAMI, "")
	waitState(t, west, id3, types.InstanceStateNameTerminated)
}

// DockerMachines for real: log in with the key pair over SSH (the host's
// ssh client), sudo, the mounted directory, no network; the AMI is the
// container's disk and boots again.
func TestDockerMachines(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		// The bake test of cmd/bakehouse covers the path with Packer.
		t.Skipf("no ssh client (apt-get install openssh-client): %v", err)
	}
	c := dockertest.MustEngine(t)
	dockertest.MustSSHImage(t, c)
	if needSSHPort(t) {
		return
	}
	shared := t.TempDir()
	os.Chmod(shared, 0o755)
	if err := os.WriteFile(filepath.Join(shared, "marker"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dm := &ec2test.DockerMachines{Docker: c, Image: dockertest.SSHImage,
		Mounts: []ec2test.Mount{{Source: shared, Target: "/bakehouse/repo"}}}
	t.Cleanup(func() { // after the double's shutdown: nothing of this run is left
		out := dockertest.MustDocker(t, c, "ps", "--all", "--quiet", "--filter", "label="+ec2test.LabelRun+"="+dm.RunID())
		imgs := dockertest.MustDocker(t, c, "images", "--quiet", "--filter", "label="+ec2test.LabelRun+"="+dm.RunID())
		if strings.TrimSpace(out+imgs) != "" {
			t.Errorf("left behind: containers %q images %q", out, imgs)
		}
	})
	srv := ec2test.New(t, ec2test.Quiet(), ec2test.WithMachines(dm), ec2test.PendingPolls(0))
	west := sdk(srv, "us-west-2")
	ctx := context.Background()
	key, err := west.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: awssdk.String("packer_k1")})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, []byte(awssdk.ToString(key.KeyMaterial)), 0o600); err != nil {
		t.Fatal(err)
	}
	ssh := func(ip, script string) (string, error) {
		cmd := exec.Command(sshPath, "-F", "/dev/null", "-i", keyFile, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
			"ubuntu@"+ip, script)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	start := time.Now()
	id := runInstance(t, west, ec2test.SourceAMI, "packer_k1")
	inst := waitState(t, west, id, types.InstanceStateNameRunning)
	t.Logf("instance up in %s", time.Since(start).Round(time.Millisecond))
	pub := awssdk.ToString(inst.PublicIpAddress)
	out, err := ssh(pub, `id -un; hostname; sudo -n sh -c 'id -u; cat /bakehouse/repo/marker; echo baked >/etc/ec2test-baked'; `+
		`touch /bakehouse/repo/x 2>/dev/null || echo read-only; sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' '`)
	want := "ubuntu\nip-" + dashed(awssdk.ToString(inst.PrivateIpAddress)) + "\n0\nfrom the host\nread-only\nlo\n"
	if err != nil || !strings.HasSuffix(out, want) {
		t.Fatalf("ssh: %v\n%s\nwant suffix %q\nconsole:\n%s", err, out, want, dm.Console(id))
	}
	if !strings.Contains(dm.Console(id), "Accepted publickey for ubuntu") {
		t.Errorf("console:\n%s", dm.Console(id))
	}

	if _, err := west.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	img, err := west.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: awssdk.String(id), Name: awssdk.String("baked")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := west.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if dm.DiskImage(awssdk.ToString(img.ImageId)) == "" {
		t.Fatalf("no disk for %s", awssdk.ToString(img.ImageId))
	}
	// The baked AMI boots with what was written.
	id2 := runInstance(t, west, awssdk.ToString(img.ImageId), "packer_k1")
	inst2 := waitState(t, west, id2, types.InstanceStateNameRunning)
	if out, err := ssh(awssdk.ToString(inst2.PrivateIpAddress), "cat /etc/ec2test-baked"); err != nil || out != "baked\n" {
		t.Fatalf("instance of the baked AMI: %v %q\n%s", err, out, dm.Console(id2))
	}
	// id2 is left running: the double removes it when the test ends.
}
