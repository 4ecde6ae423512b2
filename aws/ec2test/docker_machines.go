package ec2test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/bakehouse/bakehouse/docker"
)

// DockerMachines runs the double's instances as Docker containers, for
// WithMachines. Each instance is a container of Image (or of the image a
// CreateImage captured, for an instance of that AMI or its copies) started
// with --network=none: it reaches nothing, and nothing reaches it except
// its SSH sessions, each of which is `docker exec -i CONTAINER
// /usr/sbin/sshd -i` (sshd in inetd mode, one session over stdin and
// stdout) piped to a connection accepted on the instance's loopback
// address. Booting does what cloud-init does on an EC2 instance: fresh SSH
// host keys, the login user (User) with passwordless sudo and the key
// pair's public key in ~/.ssh/authorized_keys. Stop is docker stop, Capture
// docker commit, Terminate docker rm. Containers carry
// io.bakehouse.managed=true and io.bakehouse.ec2test.run=<an id per
// DockerMachines>; Close removes them and the captured images.
//
// Image must have /usr/sbin/sshd, ssh-keygen, scp (Packer uploads files
// with it), sudo, useradd and a POSIX sh: dockertest.SSHImage
// (docker.Client.EnsureSSHBaseImage) has.
type DockerMachines struct {
	// Docker is the engine (dockertest.MustEngine).
	Docker *docker.Client
	// Image is the container image of an AMI no CreateImage captured
	// (such as the seeded SourceAMI).
	Image string
	// User is the login user, "ubuntu" (Canonical's AMIs') when empty.
	User string
	// Mounts are bind mounts every instance gets (read-only unless
	// Writable), e.g. a package repository at the path a bake's
	// debianRepository names.
	Mounts []Mount
	// Logf, when set, gets every console line (see Console) as it comes.
	Logf func(format string, args ...any)

	once       sync.Once
	runID      string
	mu         sync.Mutex
	containers map[string]string // instance id -> container name
	disks      map[string]string // AMI id -> captured image
	console    map[string]*bytes.Buffer
}

// Mount is a bind mount of a host directory into every instance.
type Mount struct {
	Source, Target string
	Writable       bool
}

// Labels of DockerMachines' containers and captured images.
const (
	LabelRun      = "io.bakehouse.ec2test.run"
	LabelInstance = "io.bakehouse.ec2test.instance"
)

func (d *DockerMachines) init() {
	d.once.Do(func() {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		d.runID = hex.EncodeToString(b)
		d.containers = map[string]string{}
		d.disks = map[string]string{}
		d.console = map[string]*bytes.Buffer{}
	})
}

// RunID is the value of LabelRun on this DockerMachines' containers and
// images.
func (d *DockerMachines) RunID() string { d.init(); return d.runID }

// Console returns what an instance printed: its boot (host keys, user)
// and sshd's log of every SSH session (sshd -e), like EC2's console
// output.
func (d *DockerMachines) Console(instanceID string) string {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.console[instanceID]; b != nil {
		return b.String()
	}
	return ""
}

// consoleWriter appends to an instance's console (and Logf).
type consoleWriter struct {
	d  *DockerMachines
	id string
}

func (w consoleWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	b := w.d.console[w.id]
	if b == nil {
		b = &bytes.Buffer{}
		w.d.console[w.id] = b
	}
	b.Write(p)
	w.d.mu.Unlock()
	if w.d.Logf != nil {
		for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
			w.d.Logf("ec2test: %s: %s", w.id, line)
		}
	}
	return len(p), nil
}

func (d *DockerMachines) user() string {
	if d.User == "" {
		return "ubuntu"
	}
	return d.User
}

// docker runs docker args, with stderr in the error.
func (d *DockerMachines) docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := d.Docker.Command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// bootScript is what cloud-init would do on first boot; $1 is the user,
// $2 the public key ("" for none), $3 the key pair's name.
const bootScript = `set -eu
user=$1 key=$2 keyname=$3
mkdir -p /run/sshd
chmod 0755 /run/sshd
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -A
grep -q "[[:space:]]$(hostname)\$" /etc/hosts || printf '127.0.1.1\t%s\n' "$(hostname)" >>/etc/hosts
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
usermod --password '*' "$user"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >/etc/sudoers.d/90-ec2test-users
chmod 0440 /etc/sudoers.d/90-ec2test-users
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
if [ -n "$key" ]; then
	printf '%s\n' "$key" >"$home/.ssh/authorized_keys"
	chown "$user:$user" "$home/.ssh/authorized_keys"
	chmod 0600 "$home/.ssh/authorized_keys"
	echo "ec2test: authorized key pair $keyname for $user"
fi
/usr/sbin/sshd -t
echo "ec2test: $(hostname) is up"
`

// Boot starts the instance's container and prepares it for SSH logins.
func (d *DockerMachines) Boot(ctx context.Context, m Machine) error {
	d.init()
	d.mu.Lock()
	image := d.Image
	if ref, ok := d.disks[m.Disk]; ok && m.Disk != "" {
		image = ref
	}
	d.mu.Unlock()
	if image == "" {
		return errors.New("DockerMachines: no Image")
	}
	name := "ec2test-" + m.InstanceID + "-" + d.runID
	args := []string{"run", "--detach", "--network=none", "--name", name, "--hostname", m.Hostname,
		"--label", docker.LabelManaged + "=true", "--label", LabelRun + "=" + d.runID, "--label", LabelInstance + "=" + m.InstanceID}
	for _, mt := range d.Mounts {
		spec := "type=bind,src=" + mt.Source + ",dst=" + mt.Target
		if !mt.Writable {
			spec += ",readonly"
		}
		args = append(args, "--mount", spec)
	}
	// PID 1 waits for docker stop's SIGTERM (a plain sleep would ignore it
	// and be killed only after the stop timeout).
	args = append(args, "--entrypoint", "/bin/sh", "--", image, "-c", `trap "exit 0" TERM; sleep infinity & wait`)
	d.mu.Lock()
	d.containers[m.InstanceID] = name
	d.mu.Unlock()
	if _, err := d.docker(ctx, args...); err != nil {
		return fmt.Errorf("boot %s from %s: %w", m.InstanceID, image, err)
	}
	fmt.Fprintf(consoleWriter{d, m.InstanceID}, "ec2test: %s runs %s in container %s\n", m.InstanceID, image, name)
	cmd := d.Docker.Command(ctx, "exec", name, "/bin/sh", "-c", bootScript, "boot", d.user(), m.PublicKey, m.KeyName)
	cmd.Stdout, cmd.Stderr = consoleWriter{d, m.InstanceID}, consoleWriter{d, m.InstanceID}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("boot %s: %w:\n%s", m.InstanceID, err, d.Console(m.InstanceID))
	}
	return nil
}

func (d *DockerMachines) container(id string) (string, bool) {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	name, ok := d.containers[id]
	return name, ok
}

// ServeSSH pipes conn to sshd -i in the instance's container.
func (d *DockerMachines) ServeSSH(ctx context.Context, instanceID string, conn net.Conn) {
	defer conn.Close()
	name, ok := d.container(instanceID)
	if !ok {
		return
	}
	console := consoleWriter{d, instanceID}
	cmd := d.Docker.Command(ctx, "exec", "--interactive", name, "/usr/sbin/sshd", "-i", "-e")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(console, "ec2test: ssh session: %v\n", err)
		return
	}
	cmd.Stdout, cmd.Stderr = conn, console
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(console, "ec2test: ssh session: %v\n", err)
		return
	}
	// Copied here rather than by exec, whose Wait would wait for the
	// client to send something more after sshd has gone.
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(stdin, conn)
		stdin.Close()
	}()
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		fmt.Fprintf(console, "ec2test: ssh session ended: %v\n", err)
	}
	conn.Close()
	<-copied
}

// Stop stops the instance's container.
func (d *DockerMachines) Stop(ctx context.Context, instanceID string) error {
	name, ok := d.container(instanceID)
	if !ok {
		return fmt.Errorf("no container for %s", instanceID)
	}
	_, err := d.docker(ctx, "stop", "--time", "10", name)
	return err
}

// Capture commits the instance's container as the disk of imageID.
func (d *DockerMachines) Capture(ctx context.Context, instanceID, imageID string) error {
	name, ok := d.container(instanceID)
	if !ok {
		return fmt.Errorf("no container for %s", instanceID)
	}
	ref := "bakehouse/ec2test-" + d.runID + ":" + imageID
	if _, err := d.docker(ctx, "commit",
		"--change", `ENTRYPOINT [""]`, "--change", `CMD ["/bin/bash"]`,
		"--change", "LABEL "+docker.LabelManaged+"=false "+LabelRun+"="+d.runID,
		"--message", "ec2test: CreateImage "+imageID+" from "+instanceID,
		name, ref); err != nil {
		return err
	}
	d.mu.Lock()
	d.disks[imageID] = ref
	d.mu.Unlock()
	return nil
}

// DiskImage returns the container image CreateImage captured as AMI
// imageID ("" when none), e.g. to run what a bake installed.
func (d *DockerMachines) DiskImage(imageID string) string {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.disks[imageID]
}

// Terminate removes the instance's container.
func (d *DockerMachines) Terminate(ctx context.Context, instanceID string) error {
	name, ok := d.container(instanceID)
	if !ok {
		return nil
	}
	if _, err := d.docker(ctx, "rm", "--force", "--volumes", name); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.containers, instanceID)
	d.mu.Unlock()
	return nil
}

// Close removes every container and captured image of this
// DockerMachines.
func (d *DockerMachines) Close(ctx context.Context) error {
	d.init()
	var errs []error
	out, err := d.docker(ctx, "ps", "--all", "--quiet", "--filter", "label="+LabelRun+"="+d.runID)
	if err != nil {
		errs = append(errs, err)
	} else if ids := strings.Fields(out); len(ids) > 0 {
		if _, err := d.docker(ctx, append([]string{"rm", "--force", "--volumes"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	d.mu.Lock()
	var refs []string
	for _, ref := range d.disks {
		refs = append(refs, ref)
	}
	d.disks = map[string]string{}
	d.containers = map[string]string{}
	d.mu.Unlock()
	if len(refs) > 0 {
		if _, err := d.docker(ctx, append([]string{"rmi", "--force"}, refs...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
