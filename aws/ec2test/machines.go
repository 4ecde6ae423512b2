package ec2test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machines runs the double's instances for real, so that Packer's SSH
// communicator and provisioners have something to log in to. The double
// keeps EC2's side (states, addresses, key pairs, images) and calls
// Machines for the machine's side; DockerMachines is the implementation
// that runs each instance as a container.
type Machines interface {
	// Boot starts the machine of a launched instance and returns once it
	// accepts SSH connections. The instance stays pending until then; an
	// error makes it terminated.
	Boot(ctx context.Context, m Machine) error
	// ServeSSH serves one SSH connection to the instance over conn (the
	// client's bytes in, the server's out) and closes conn.
	ServeSSH(ctx context.Context, instanceID string, conn net.Conn)
	// Stop stops the machine (StopInstances). Its disk stays for Capture.
	Stop(ctx context.Context, instanceID string) error
	// Capture saves the machine's disk as the disk of image imageID
	// (CreateImage); instances launched from imageID or its copies get a
	// Machine whose Disk is imageID.
	Capture(ctx context.Context, instanceID, imageID string) error
	// Terminate removes the machine (TerminateInstances).
	Terminate(ctx context.Context, instanceID string) error
	// Close removes whatever is left (machines, captured disks); the
	// double calls it when the test ends.
	Close(ctx context.Context) error
}

// Machine is one instance for Machines to boot.
type Machine struct {
	InstanceID, Region string
	// ImageID is the AMI launched. Disk is the image whose captured disk
	// to boot (for a copy, the image it was copied from), or "" for an
	// image that no Capture made, such as the seeded source AMI: then the
	// Machines' own base disk.
	ImageID, Disk string
	// KeyName is the key pair the instance was launched with and
	// PublicKey its public half as an authorized_keys line ("" for none).
	KeyName, PublicKey string
	// PublicIP and PrivateIP are the instance's addresses (loopback ones
	// of its own), Hostname EC2's name for PrivateIP (ip-127-...).
	PublicIP, PrivateIP, Hostname string
}

// machine states of an instance (instance.machine).
const (
	machineNone    = iota // no Machines, or never booted
	machineBooting        // Boot running
	machineUp             // Boot returned; until Terminate
	machineGone           // terminated, or failed to boot
)

// WithMachines makes the double run every instance it launches on m:
// RunInstances boots a machine (the instance is pending until it is up);
// the instance's public and private addresses are loopback addresses of
// its own (127.X.Y.Z, X in 100-199) on whose SSH port (22 unless SSHPort
// says otherwise, Packer's ssh_port default) every connection is served
// by m.ServeSSH; StopInstances, TerminateInstances and CreateImage stop,
// remove and capture it. CreateKeyPair then answers a real RSA key in PEM,
// as EC2 does, and its public half goes to the machine (KeyMaterial still
// overrides it). The double closes m when the test ends. Listening on
// port 22 needs root or CAP_NET_BIND_SERVICE: CanListenSSH tells whether
// this process can, and New fails the test when it cannot.
func WithMachines(m Machines) Option {
	return func(s *Server) { s.machines = m }
}

// SSHPort sets the port the instances' addresses serve SSH on, for
// templates that set ssh_port (default 22).
func SSHPort(port int) Option {
	return func(s *Server) { s.sshPort = port }
}

// CanListenSSH reports whether this process can listen on port (0 means
// 22) of a loopback address, as WithMachines needs.
func CanListenSSH(port int) error {
	if port == 0 {
		port = 22
	}
	ln, _, err := listenLoopback(port)
	if err != nil {
		return err
	}
	return ln.Close()
}

// listenLoopback listens on port of a random loopback address 127.X.Y.Z
// (X in 100-199, away from 127.0.0.1 and its neighbours) that is free.
// The whole of 127.0.0.0/8 is local on Linux, so no address is added.
func listenLoopback(port int) (net.Listener, string, error) {
	var last error
	for range 64 {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+mrand.IntN(100), mrand.IntN(256), 1+mrand.IntN(254))
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err == nil {
			return ln, ip, nil
		}
		last = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if errors.Is(last, syscall.EACCES) {
		return nil, "", fmt.Errorf("ec2test: instances serve SSH on port %d of loopback addresses, which needs root, CAP_NET_BIND_SERVICE or sysctl net.ipv4.ip_unprivileged_port_start<=%d: %w", port, port, last)
	}
	if errors.Is(last, syscall.EADDRINUSE) {
		return nil, "", fmt.Errorf("ec2test: port %d is taken on every loopback address tried (something, a host sshd say, listens on 0.0.0.0:%d): %w", port, port, last)
	}
	return nil, "", fmt.Errorf("ec2test: listen for an instance's SSH: %w", last)
}

// hostnameOf is EC2's host name for a private address.
func hostnameOf(ip string) string { return "ip-" + strings.ReplaceAll(ip, ".", "-") }

// startMachine gives inst its addresses and starts booting it; the caller
// holds mu.
func (s *Server) startMachine(inst *instance, pub string) error {
	for range 2 {
		ln, ip, err := listenLoopback(s.sshPort)
		if err != nil {
			s.closeListeners(inst)
			return err
		}
		inst.listeners = append(inst.listeners, ln)
		if inst.publicIP == "" {
			inst.publicIP = ip
		} else {
			inst.privateIP = ip
		}
	}
	disk := s.disks[inst.imageID]
	m := Machine{
		InstanceID: inst.id, Region: inst.region, ImageID: inst.imageID, Disk: disk,
		KeyName: inst.keyName, PublicKey: pub,
		PublicIP: inst.publicIP, PrivateIP: inst.privateIP, Hostname: hostnameOf(inst.privateIP),
	}
	inst.machine = machineBooting
	s.wg.Add(1 + len(inst.listeners))
	for _, ln := range inst.listeners {
		go s.acceptSSH(ln, inst)
	}
	go s.boot(inst, m)
	return nil
}

// closeListeners stops serving inst's addresses; the caller holds mu.
func (s *Server) closeListeners(inst *instance) {
	for _, ln := range inst.listeners {
		ln.Close()
	}
	inst.listeners = nil
}

// acceptSSH serves the SSH connections to one of inst's addresses while
// the instance is running; others are closed at once, as a machine that
// is not up answers none.
func (s *Server) acceptSSH(ln net.Listener, inst *instance) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		up := inst.state == "running" && inst.machine == machineUp
		if up {
			s.wg.Add(1)
		}
		s.mu.Unlock()
		if !up {
			conn.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			s.machines.ServeSSH(s.ctx, inst.id, conn)
		}()
	}
}

// boot runs Machines.Boot for inst, then catches up with what happened to
// the instance meanwhile (Packer gave up and terminated it, say).
func (s *Server) boot(inst *instance, m Machine) {
	defer s.wg.Done()
	err := s.machines.Boot(s.ctx, m)
	s.mu.Lock()
	if err != nil {
		inst.machine = machineGone
		inst.state, inst.pending = "terminated", 0
		s.closeListeners(inst)
		s.mu.Unlock()
		s.tb.Logf("ec2test: instance %s did not boot: %v", inst.id, err)
		s.machineCall("Terminate", inst.id, func(ctx context.Context) error { return s.machines.Terminate(ctx, inst.id) })
		return
	}
	inst.machine = machineUp
	state := inst.state
	if state == "terminated" {
		inst.machine = machineGone
	}
	s.mu.Unlock()
	switch state {
	case "stopped":
		s.machineCall("Stop", inst.id, func(ctx context.Context) error { return s.machines.Stop(ctx, inst.id) })
	case "terminated":
		s.machineCall("Terminate", inst.id, func(ctx context.Context) error { return s.machines.Terminate(ctx, inst.id) })
	}
}

// machineCall runs a Machines call, logging its error (EC2's answer has
// been given or decided already).
func (s *Server) machineCall(what, id string, f func(context.Context) error) error {
	err := f(s.ctx)
	if err != nil {
		s.tb.Logf("ec2test: %s %s: %v", what, id, err)
	}
	return err
}

// afterUnlock queues f to run once the current call's handler has
// released mu, before the call is answered; the caller holds mu.
func (s *Server) afterUnlock(f func()) { s.after = append(s.after, f) }

// shutdownMachines stops serving SSH, waits for boots and sessions, and
// removes every machine and disk; it runs when the test ends, after the
// HTTP server has closed.
func (s *Server) shutdownMachines() {
	s.mu.Lock()
	for _, inst := range s.instances {
		s.closeListeners(inst)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.mu.Lock()
	var left []string
	for _, inst := range s.instances {
		if inst.machine == machineUp {
			inst.machine = machineGone
			left = append(left, inst.id)
		}
	}
	s.mu.Unlock()
	for _, id := range left {
		if err := s.machines.Terminate(ctx, id); err != nil {
			s.tb.Errorf("ec2test: terminate %s at shutdown: %v", id, err)
		}
	}
	if err := s.machines.Close(ctx); err != nil {
		s.tb.Errorf("ec2test: close machines: %v", err)
	}
}

// ---- key pairs ----

// rsaKeyPair is a key pair as EC2 creates it: the private key in PKCS#1
// PEM (-----BEGIN RSA PRIVATE KEY-----), its public half as an OpenSSH
// authorized_keys line, and EC2's fingerprint of a created key (the SHA-1
// of the PKCS#8 DER private key, colon-separated hex).
type rsaKeyPair struct {
	pem, authorized, fingerprint string
}

func newRSAKeyPair(comment string) (rsaKeyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return rsaKeyPair{}, err
	}
	return keyPairOf(k, comment)
}

func keyPairOf(k *rsa.PrivateKey, comment string) (rsaKeyPair, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return rsaKeyPair{}, err
	}
	sum := sha1.Sum(der)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02x", b)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return rsaKeyPair{
		pem:         strings.TrimSuffix(string(block), "\n"),
		authorized:  authorizedKey(&k.PublicKey, comment),
		fingerprint: strings.Join(hexes, ":"),
	}, nil
}

// publicKeyOf returns the authorized_keys line of an RSA private key in
// PEM (PKCS#1 or PKCS#8), or "" when it is not one.
func publicKeyOf(pemText, comment string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return ""
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return authorizedKey(&k.PublicKey, comment)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return authorizedKey(&rk.PublicKey, comment)
		}
	}
	return ""
}

// authorizedKey encodes an RSA public key as OpenSSH does (RFC 4253
// section 6.6: string "ssh-rsa", mpint e, mpint n).
func authorizedKey(pub *rsa.PublicKey, comment string) string {
	var b []byte
	b = sshString(b, []byte("ssh-rsa"))
	b = sshString(b, mpint(big.NewInt(int64(pub.E))))
	b = sshString(b, mpint(pub.N))
	line := "ssh-rsa " + base64.StdEncoding.EncodeToString(b)
	if comment != "" {
		line += " " + comment
	}
	return line
}

func sshString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// mpint is a positive integer's two's-complement big-endian bytes (RFC
// 4251 section 5): a leading zero when the top bit is set.
func mpint(n *big.Int) []byte {
	b := n.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return b
}
