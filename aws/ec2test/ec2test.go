// Package ec2test is a loopback double of the EC2 Query API for tests.
//
// New starts an HTTP server on 127.0.0.1 that answers EC2 Query API calls
// (form-encoded POSTs, Version 2016-11-15) with the responses recorded in
// testdata/ (copied from shared/fixtures/ec2, every one of them accepted by
// a real Packer 1.6.6), filled in from a small state machine: a set of
// images per region that DescribeImages searches as EC2 does and that
// CreateImage and CopyImage add to, instances that go pending -> running ->
// stopped -> terminated, temporary key pairs and security groups. It is
// enough for a whole Packer 1.6.6 amazon-ebs bake (communicator none) and
// for Bakehouse's own aws-sdk-go-v2 image look-ups. WithMachines goes
// further: every instance then runs for real (DockerMachines: a container
// without a network) and serves SSH on loopback addresses of its own, so a
// template's ssh communicator and provisioners run unchanged.
//
// The region of a call is the one its SigV4 Authorization header is signed
// for, so one server plays every region (Packer's custom_endpoint_ec2 sends
// the CopyImage for each ami_regions entry to the same endpoint).
//
// Point Packer at it with the builder's "custom_endpoint_ec2" (Packer 1.6.6
// does not read AWS_ENDPOINT_URL*) plus "skip_region_validation" and
// "skip_metadata_api_check", and an aws-sdk-go-v2 client with
// ec2.Options.BaseEndpoint or the environment from Env.
package ec2test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ids of the fixture set (shared/fixtures/ec2/README.md).
const (
	// Account is the account the double's caller owns (Owner.N=self).
	Account = "123456789012"
	// DefaultRegion is the region of the seeded source AMI.
	DefaultRegion = "us-west-2"
	// SourceAMI is the seeded base image (Canonical's trusty, us-west-2).
	SourceAMI = "ami-0abc1234567890001"
	// SourceAMIName is its name.
	SourceAMIName = "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20170202"
	// CanonicalOwner owns SourceAMI.
	CanonicalOwner = "099720109477"
	// MissingAMI is the fixtures' id of an image that does not exist.
	MissingAMI = "ami-0abc1234567890009"
)

// Error fixtures for FailAction.
const (
	// UnauthorizedOperation answers 403 UnauthorizedOperation.
	UnauthorizedOperation = "Error.UnauthorizedOperation.xml"
	// InstanceLimitExceeded answers 400 InstanceLimitExceeded.
	InstanceLimitExceeded = "Error.InstanceLimitExceeded.xml"
	// InvalidAMIIDNotFound answers 400 InvalidAMIID.NotFound (the fixture's
	// text names MissingAMI). An unknown ImageId gets it without injection,
	// naming the id asked for.
	InvalidAMIIDNotFound = "Error.InvalidAMIID.NotFound.xml"
)

// Call is one request the double answered.
type Call struct {
	Action string
	// Region is the region the request was signed for.
	Region string
	// Form is every form value sent (Action and Version included). The
	// Authorization header, which holds the access key id, is not kept.
	Form      url.Values
	UserAgent string
	// Status is the HTTP status answered; Fixture the testdata file the
	// answer was made from ("" when the double composed it, e.g. an error
	// without a fixture or a DescribeImages with results).
	Status  int
	Fixture string
	// Code is the EC2 error code of a failed call.
	Code string
}

// Server is the EC2 double. It is safe for concurrent use.
type Server struct {
	tb          testing.TB
	srv         *httptest.Server
	account     string
	keyMaterial string
	quiet       bool
	seed        bool
	pendingInst int
	pendingImg  int
	pendingCopy int
	machines    Machines
	sshPort     int
	ctx         context.Context // ends when the test does; for Machines
	cancel      context.CancelFunc
	wg          sync.WaitGroup // boots, SSH listeners and sessions

	mu        sync.Mutex
	calls     []Call
	fail      map[string]string
	images    map[string]*imageRec
	snapshots map[string]bool
	instances map[string]*instance
	groups    map[string]*group
	keys      map[string]*keyPair
	seq       map[string]int
	reqSeq    int
	disks     map[string]string // AMI id -> the AMI whose captured disk it boots
	after     []func()          // see afterUnlock
}

// Option configures New.
type Option func(*Server)

// FailAction makes every call of action answer the error fixture
// (UnauthorizedOperation, InstanceLimitExceeded, InvalidAMIIDNotFound, or
// an error code whose Error.<code>.xml is in testdata), with the fixture's
// HTTP status (403 for UnauthorizedOperation, else 400) and request id.
// Inject on RunInstances rather than CreateKeyPair: Packer 1.6.6 retries a
// failed CreateKeyPair for 141 s.
func FailAction(action, errorFixture string) Option {
	return func(s *Server) { s.fail[action] = errorFixture }
}

// PendingPolls sets how many DescribeInstances / DescribeImages answers
// show a new instance, created image or copied image as pending before it
// is running / available. The default is the verified run's: 1 for
// instances and created images, 0 for copies. 0 makes every waiter succeed
// on its first poll.
func PendingPolls(n int) Option {
	return func(s *Server) { s.pendingInst, s.pendingImg, s.pendingCopy = n, n, n }
}

// KeyMaterial sets the keyMaterial CreateKeyPair returns (default: the
// fixture's placeholder, which Packer only parses when it connects over
// SSH; give a real PEM key, e.g. from ssh-keygen -m PEM, for an SSH path).
// With WithMachines CreateKeyPair makes a real key of its own.
func KeyMaterial(pem string) Option {
	return func(s *Server) { s.keyMaterial = pem }
}

// WithAccount sets the caller's account id (default Account).
func WithAccount(id string) Option {
	return func(s *Server) { s.account = id }
}

// NoSourceImage starts with no images (by default the fixtures' source
// AMI, SourceAMI in us-west-2, is seeded).
func NoSourceImage() Option {
	return func(s *Server) { s.seed = false }
}

// Quiet stops the double from logging every call with tb.Logf.
func Quiet() Option {
	return func(s *Server) { s.quiet = true }
}

// New starts the double on 127.0.0.1 and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		tb:          tb,
		account:     Account,
		seed:        true,
		pendingInst: 1,
		pendingImg:  1,
		fail:        map[string]string{},
		images:      map[string]*imageRec{},
		snapshots:   map[string]bool{},
		instances:   map[string]*instance{},
		groups:      map[string]*group{},
		keys:        map[string]*keyPair{},
		seq:         map[string]int{},
		disks:       map[string]string{},
		sshPort:     22,
	}
	for _, o := range opts {
		o(s)
	}
	for action, f := range s.fail {
		if _, err := errorFixtureText(f); err != nil {
			tb.Fatalf("ec2test: FailAction(%s): %v", action, err)
		}
	}
	if s.seed {
		img := sourceImage()
		s.AddImage(img)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.machines != nil {
		if err := CanListenSSH(s.sshPort); err != nil {
			s.cancel()
			s.machines.Close(context.Background())
			tb.Fatalf("ec2test: WithMachines: %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("ec2test: listen on loopback: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	// Cleanups run last-in first-out: the HTTP server closes (and its
	// calls end) before the machines are shut down.
	tb.Cleanup(func() {
		if s.machines != nil {
			s.shutdownMachines()
		}
		s.cancel()
	})
	tb.Cleanup(s.srv.Close)
	return s
}

// Endpoint is the double's URL (http://127.0.0.1:PORT), for Packer's
// custom_endpoint_ec2 and ec2.Options.BaseEndpoint.
func (s *Server) Endpoint() string { return s.srv.URL }

// Env returns environment entries that point an aws-sdk-go-v2 client (and
// anything else honouring AWS_ENDPOINT_URL_EC2) at the double with fake
// static credentials, no shared config files, no instance metadata and no
// Packer update check. Packer 1.6.6 still needs custom_endpoint_ec2.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=AKIDEC2TESTDOUBLE",
		"AWS_SECRET_ACCESS_KEY=ec2test-fake-secret",
		"AWS_REGION=" + DefaultRegion,
		"AWS_DEFAULT_REGION=" + DefaultRegion,
		"AWS_ENDPOINT_URL_EC2=" + s.Endpoint(),
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"CHECKPOINT_DISABLE=1",
	}
}

// SetFailure makes action answer errorFixture from now on ("" clears it).
func (s *Server) SetFailure(action, errorFixture string) {
	if errorFixture != "" {
		if _, err := errorFixtureText(errorFixture); err != nil {
			s.tb.Fatalf("ec2test: SetFailure(%s): %v", action, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if errorFixture == "" {
		delete(s.fail, action)
	} else {
		s.fail[action] = errorFixture
	}
}

// Calls returns every call answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Form = cloneValues(c.Form)
		out[i] = c
	}
	return out
}

// CallsTo returns the calls of one action, in order.
func (s *Server) CallsTo(action string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// Actions returns the action of every call, in order.
func (s *Server) Actions() []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.Action)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// request is one parsed call.
type request struct {
	action string
	region string
	form   url.Values
}

// response is what a handler answers.
type response struct {
	status  int
	body    string
	fixture string
	code    string
}

// credentialRE finds the region in a SigV4 Authorization header:
// Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request.
var credentialRE = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([^/,\s]+)/[^/,\s]+/aws4_request`)

// regionOf returns the region r is signed for, or "".
func regionOf(r *http.Request) string {
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return ""
	}
	return m[1]
}

// ServeHTTP answers one EC2 Query API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var res response
	req := request{region: regionOf(r)}
	if err := r.ParseForm(); err != nil {
		res = s.errorf(http.StatusBadRequest, "MalformedQueryString", "The query string could not be parsed: %v", err)
	} else {
		req.form = r.Form
		req.action = r.Form.Get("Action")
		res = s.handle(req)
	}
	call := Call{
		Action:    req.action,
		Region:    req.region,
		Form:      cloneValues(req.form),
		UserAgent: r.UserAgent(),
		Status:    res.status,
		Fixture:   res.fixture,
		Code:      res.code,
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if !s.quiet {
		s.tb.Logf("ec2test: %s %s %s -> %d %s%s", call.Region, call.Action, summary(call.Form), res.status, res.fixture, codeSuffix(res.code))
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=UTF-8")
	h.Set("Server", "AmazonEC2")
	if id := requestIDOf(res.body); id != "" {
		h.Set("x-amzn-RequestId", id)
	}
	w.WriteHeader(res.status)
	_, _ = w.Write([]byte(res.body))
}

func codeSuffix(code string) string {
	if code == "" {
		return ""
	}
	return " " + code
}

// summary renders the form for the log: sorted key=value pairs without
// Action and Version, long values cut.
func summary(form url.Values) string {
	var keys []string
	for k := range form {
		if k != "Action" && k != "Version" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range form[k] {
			if len(v) > 80 {
				v = v[:80] + "..."
			}
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	return strings.TrimSpace(b.String())
}

var requestIDRE = regexp.MustCompile(`<(?:requestId|RequestID)>([^<]*)</`)

func requestIDOf(body string) string {
	m := requestIDRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// handlers maps each supported action to its handler; the caller holds mu.
var handlers = map[string]func(*Server, request) response{
	"DescribeRegions":               (*Server).describeRegions,
	"DescribeImages":                (*Server).describeImages,
	"CreateImage":                   (*Server).createImage,
	"CopyImage":                     (*Server).copyImage,
	"ModifyImageAttribute":          (*Server).modifyImageAttribute,
	"CreateTags":                    (*Server).createTags,
	"DeregisterImage":               (*Server).deregisterImage,
	"DeleteSnapshot":                (*Server).deleteSnapshot,
	"ModifySnapshotAttribute":       (*Server).modifySnapshotAttribute,
	"CreateKeyPair":                 (*Server).createKeyPair,
	"DeleteKeyPair":                 (*Server).deleteKeyPair,
	"CreateSecurityGroup":           (*Server).createSecurityGroup,
	"DescribeSecurityGroups":        (*Server).describeSecurityGroups,
	"AuthorizeSecurityGroupIngress": (*Server).authorizeSecurityGroupIngress,
	"DeleteSecurityGroup":           (*Server).deleteSecurityGroup,
	"RunInstances":                  (*Server).runInstances,
	"DescribeInstances":             (*Server).describeInstances,
	"StopInstances":                 (*Server).stopInstances,
	"TerminateInstances":            (*Server).terminateInstances,
	"DescribeVolumes":               (*Server).describeVolumes,
}

// handle answers a call: the handler runs with mu held, then what it
// queued with afterUnlock (Machines calls, which may take seconds) runs
// without it.
func (s *Server) handle(req request) response {
	s.mu.Lock()
	res := s.handleLocked(req)
	after := s.after
	s.after = nil
	s.mu.Unlock()
	for _, f := range after {
		f()
	}
	return res
}

func (s *Server) handleLocked(req request) response {
	if req.region == "" {
		return s.errorf(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	}
	if req.action == "" {
		return s.errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action")
	}
	if f, ok := s.fail[req.action]; ok {
		return s.fixtureError(f, nil)
	}
	h, ok := handlers[req.action]
	if !ok {
		return s.errorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", req.action)
	}
	return h(s, req)
}

// answer answers a fixture file after the replacements (old, new, ...).
func answer(name string, replace ...string) response {
	body := fixture(name)
	if len(replace) > 0 {
		body = strings.NewReplacer(replace...).Replace(body)
	}
	return response{status: http.StatusOK, body: body, fixture: name}
}

// newRequestID returns a request id in the fixtures' format that no
// fixture uses; the caller holds mu.
func (s *Server) newRequestID() string {
	s.reqSeq++
	n := 1000 + s.reqSeq
	return fmt.Sprintf("0abc%04d-5b1e-4c7d-9f2a-%012d", n%10000, n)
}

// errorf answers an EC2 error in the fixtures' envelope; the caller holds
// mu.
func (s *Server) errorf(status int, code, format string, args ...any) response {
	body := fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>",
		esc(code), esc(fmt.Sprintf(format, args...)), s.newRequestID())
	return response{status: status, body: body, code: code}
}

// errorStatus is the HTTP status EC2 answers an error code with.
func errorStatus(code string) int {
	switch code {
	case "UnauthorizedOperation", "AuthFailure", "OptInRequired", "Blocked":
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// fixtureError answers an error fixture, after the replacements.
func (s *Server) fixtureError(name string, replace []string) response {
	body, err := errorFixtureText(name)
	if err != nil {
		return s.errorf(http.StatusInternalServerError, "InternalError", "ec2test: %v", err)
	}
	if len(replace) > 0 {
		body = strings.NewReplacer(replace...).Replace(body)
	}
	code := errorCodeRE.FindStringSubmatch(body)[1]
	return response{status: errorStatus(code), body: body, fixture: name, code: code}
}

var errorCodeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// errorFixtureText returns an error fixture by file name or by code
// ("UnauthorizedOperation" finds Error.UnauthorizedOperation.xml).
func errorFixtureText(name string) (string, error) {
	if !strings.HasPrefix(name, "Error.") {
		name = "Error." + name + ".xml"
	}
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		return "", fmt.Errorf("no error fixture %s", name)
	}
	if !errorCodeRE.Match(b) {
		return "", fmt.Errorf("%s is not an error response", name)
	}
	return string(b), nil
}

// notFound answers InvalidAMIID.NotFound for ids, from the fixture.
func (s *Server) amiNotFound(ids []string) response {
	return s.fixtureError(InvalidAMIIDNotFound, []string{MissingAMI, strings.Join(ids, ", ")})
}

// nextID returns prefix + a fixture-style id (0abc + 13 digits) not yet
// used; the caller holds mu.
func (s *Server) nextID(prefix string, used func(string) bool) string {
	for {
		s.seq[prefix]++
		n := s.seq[prefix]
		id := fmt.Sprintf("%s0abc%013d", prefix, 1234567890000+n)
		if id == MissingAMI || id == "snap-0abc1234567890009" || used(id) {
			continue
		}
		return id
	}
}

// now is the double's clock, in EC2's date format.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }
