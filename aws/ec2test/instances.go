package ec2test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Instance is what the double knows of one launched instance.
type Instance struct {
	ID, Region, ImageID, InstanceType string
	KeyName, SecurityGroupID          string
	// State is pending, running, stopped or terminated.
	State string
	Tags  map[string]string
	// PublicIP and PrivateIP are the addresses DescribeInstances shows:
	// the fixtures' 127.0.0.1 and 127.0.0.2, or with WithMachines the
	// instance's own loopback addresses, which serve SSH while it runs.
	PublicIP, PrivateIP string
}

type instance struct {
	id, region, imageID, instanceType, az string
	clientToken                           string // RunInstances' idempotency token
	keyName, groupID                      string
	state                                 string
	pending                               int
	tags                                  [][2]string // in the order given
	source                                Image       // the image it was launched from
	// With Machines: the machine's state (machineNone...), its addresses
	// and the listeners serving SSH on them.
	machine             int
	publicIP, privateIP string
	listeners           []net.Listener
}

func (i *instance) setTag(k, v string) {
	for n := range i.tags {
		if i.tags[n][0] == k {
			i.tags[n][1] = v
			return
		}
	}
	i.tags = append(i.tags, [2]string{k, v})
}

type group struct {
	id, name, description, vpcID, region string
}

type keyPair struct {
	id, name, region string
	// publicKey is the authorized_keys line of a real key ("" for the
	// fixture's placeholder).
	publicKey string
}

// Instances returns every instance launched so far, sorted by id.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, i := range s.instances {
		tags := map[string]string{}
		for _, t := range i.tags {
			tags[t[0]] = t[1]
		}
		pub, priv := i.addresses()
		out = append(out, Instance{
			ID: i.id, Region: i.region, ImageID: i.imageID, InstanceType: i.instanceType,
			KeyName: i.keyName, SecurityGroupID: i.groupID, State: i.state, Tags: tags,
			PublicIP: pub, PrivateIP: priv,
		})
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// KeyPairs returns the names of the key pairs that exist now
// ("region/name"), sorted: empty after a bake that cleaned up.
func (s *Server) KeyPairs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SecurityGroups returns the ids of the security groups that exist now,
// sorted: empty after a bake that cleaned up.
func (s *Server) SecurityGroups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.groups {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// addresses returns the instance's public and private addresses.
func (i *instance) addresses() (string, string) {
	if i.publicIP != "" {
		return i.publicIP, i.privateIP
	}
	return "127.0.0.1", "127.0.0.2"
}

func (s *Server) instanceIn(region, id string) *instance {
	i, ok := s.instances[id]
	if !ok || i.region != region {
		return nil
	}
	return i
}

func (s *Server) instanceNotFound(id string) response {
	if id == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	return s.errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
}

func (s *Server) groupNotFound(id string) response {
	return s.errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
}

// ---- key pairs ----

func (s *Server) createKeyPair(req request) response {
	name := req.form.Get("KeyName")
	if name == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter KeyName")
	}
	k := req.region + "/" + name
	if _, dup := s.keys[k]; dup {
		return s.errorf(http.StatusBadRequest, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	kp := &keyPair{id: s.nextID("key-", func(string) bool { return false }), name: name, region: req.region}
	repl := []string{"packer_5f1d2a3b-7c4e-4d8f-9a0b-1c2d3e4f5a6b", esc(name), "key-0abc1234567890001", kp.id}
	material := s.keyMaterial
	if material != "" {
		kp.publicKey = publicKeyOf(material, name)
	} else if s.machines != nil {
		// A real key, as EC2 makes: the machines authorize its public half.
		gen, err := newRSAKeyPair(name)
		if err != nil {
			return s.errorf(http.StatusInternalServerError, "InternalError", "ec2test: generate key pair: %v", err)
		}
		material, kp.publicKey = gen.pem, gen.authorized
		repl = append(repl, "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f", gen.fingerprint)
	}
	if material != "" {
		old := fixture("CreateKeyPair.xml")
		start := strings.Index(old, "<keyMaterial>") + len("<keyMaterial>")
		end := strings.Index(old, "</keyMaterial>")
		repl = append(repl, old[start:end], esc(material))
	}
	s.keys[k] = kp
	return answer("CreateKeyPair.xml", repl...)
}

func (s *Server) deleteKeyPair(req request) response {
	// EC2 answers success for a key pair that does not exist.
	delete(s.keys, req.region+"/"+req.form.Get("KeyName"))
	return answer("DeleteKeyPair.xml")
}

// ---- security groups ----

func (s *Server) createSecurityGroup(req request) response {
	name, desc := req.form.Get("GroupName"), req.form.Get("GroupDescription")
	if name == "" || desc == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameters GroupName and GroupDescription")
	}
	for _, g := range s.groups {
		if g.region == req.region && g.name == name {
			return s.errorf(http.StatusBadRequest, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, g.vpcID)
		}
	}
	vpc := req.form.Get("VpcId")
	if vpc == "" {
		vpc = "vpc-0abc1234567890001" // the default VPC
	}
	g := &group{id: s.nextID("sg-", func(id string) bool { _, ok := s.groups[id]; return ok }), name: name, description: desc, vpcID: vpc, region: req.region}
	s.groups[g.id] = g
	return answer("CreateSecurityGroup.xml", "sg-0abc1234567890001", g.id)
}

var groupItemRE = regexp.MustCompile(`(?s)(<securityGroupInfo>\s*)(<item>.*</item>)(\s*</securityGroupInfo>)`)

func (s *Server) describeSecurityGroups(req request) response {
	ids := indexed(req.form, "GroupId")
	names := indexed(req.form, "GroupName")
	var found []*group
	for _, id := range ids {
		g, ok := s.groups[id]
		if !ok || g.region != req.region {
			return s.groupNotFound(id)
		}
		found = append(found, g)
	}
	for _, n := range names {
		var hit *group
		for _, g := range s.groups {
			if g.region == req.region && g.name == n {
				hit = g
			}
		}
		if hit == nil {
			return s.errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC", n)
		}
		found = append(found, hit)
	}
	if len(ids) == 0 && len(names) == 0 {
		for _, g := range s.groups {
			if g.region == req.region {
				found = append(found, g)
			}
		}
		slices.SortFunc(found, func(a, b *group) int { return strings.Compare(a.id, b.id) })
	}
	body := fixture("DescribeSecurityGroups.xml")
	m := groupItemRE.FindStringSubmatchIndex(body)
	item := body[m[4]:m[5]]
	var items strings.Builder
	for n, g := range found {
		if n > 0 {
			items.WriteString("\n        ")
		}
		items.WriteString(strings.NewReplacer(
			"sg-0abc1234567890001", g.id,
			"packer_6a2e3b4c-8d5f-4e9a-0b1c-2d3e4f5a6b7c", esc(g.name),
			"Temporary group for Packer", esc(g.description),
			"vpc-0abc1234567890001", esc(g.vpcID),
			Account, s.account,
		).Replace(item))
	}
	body = body[:m[4]] + items.String() + body[m[5]:]
	return response{status: http.StatusOK, body: body, fixture: "DescribeSecurityGroups.xml"}
}

func (s *Server) authorizeSecurityGroupIngress(req request) response {
	id := req.form.Get("GroupId")
	g, ok := s.groups[id]
	if !ok || g.region != req.region {
		return s.groupNotFound(id)
	}
	get := func(k, def string) string {
		if v := req.form.Get("IpPermissions.1." + k); v != "" {
			return v
		}
		return def
	}
	return answer("AuthorizeSecurityGroupIngress.xml",
		"sg-0abc1234567890001", g.id,
		"sgr-0abc1234567890001", s.nextID("sgr-", func(string) bool { return false }),
		"<fromPort>22</fromPort>", "<fromPort>"+esc(get("FromPort", "22"))+"</fromPort>",
		"<toPort>22</toPort>", "<toPort>"+esc(get("ToPort", "22"))+"</toPort>",
		"<ipProtocol>tcp</ipProtocol>", "<ipProtocol>"+esc(get("IpProtocol", "tcp"))+"</ipProtocol>",
		"<cidrIpv4>0.0.0.0/0</cidrIpv4>", "<cidrIpv4>"+esc(get("IpRanges.1.CidrIp", "0.0.0.0/0"))+"</cidrIpv4>",
	)
}

func (s *Server) deleteSecurityGroup(req request) response {
	id := req.form.Get("GroupId")
	g, ok := s.groups[id]
	if !ok || g.region != req.region {
		return s.groupNotFound(id)
	}
	for _, i := range s.instances {
		if i.groupID == id && i.state != "terminated" {
			return s.errorf(http.StatusBadRequest, "DependencyViolation", "resource %s has a dependent object", id)
		}
	}
	delete(s.groups, id)
	return answer("DeleteSecurityGroup.xml")
}

// ---- instances ----

func (s *Server) runInstances(req request) response {
	// RunInstances is idempotent by ClientToken, as in EC2: a retried call
	// (the SDKs retry a response they could not read) gets the instance
	// the first one launched, not a second one.
	if token := req.form.Get("ClientToken"); token != "" {
		for _, inst := range s.instances {
			if inst.clientToken == token && inst.region == req.region {
				if inst.imageID != req.form.Get("ImageId") {
					return s.errorf(http.StatusBadRequest, "IdempotentParameterMismatch",
						"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
				}
				body := s.instanceText(fixture("RunInstances.xml"), inst)
				return response{status: http.StatusOK, body: body, fixture: "RunInstances.xml"}
			}
		}
	}
	imageID := req.form.Get("ImageId")
	if imageID == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter ImageId")
	}
	img := s.imageIn(req.region, imageID)
	if img == nil || !s.visible(img.Image) {
		return s.amiNotFound([]string{imageID})
	}
	if img.State != "available" {
		return s.errorf(http.StatusBadRequest, "InvalidAMIID.Unavailable", "Image %s is not available", imageID)
	}
	keyName, publicKey := req.form.Get("KeyName"), ""
	if keyName != "" {
		kp, ok := s.keys[req.region+"/"+keyName]
		if !ok {
			return s.errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", keyName)
		}
		publicKey = kp.publicKey
	}
	groups := indexed(req.form, "SecurityGroupId")
	for _, id := range groups {
		if g, ok := s.groups[id]; !ok || g.region != req.region {
			return s.groupNotFound(id)
		}
	}
	groupID := ""
	if len(groups) > 0 {
		groupID = groups[0]
	}
	instanceType := req.form.Get("InstanceType")
	if instanceType == "" {
		instanceType = "m1.small"
	}
	az := req.form.Get("Placement.AvailabilityZone")
	if az == "" {
		az = req.region + "a"
	}
	inst := &instance{
		id:           s.nextID("i-", func(id string) bool { _, ok := s.instances[id]; return ok }),
		region:       req.region,
		imageID:      imageID,
		instanceType: instanceType,
		az:           az,
		keyName:      keyName,
		groupID:      groupID,
		clientToken:  req.form.Get("ClientToken"),
		state:        "running",
		pending:      s.pendingInst,
		source:       img.clone(),
	}
	if s.machines != nil {
		if err := s.startMachine(inst, publicKey); err != nil {
			s.tb.Logf("ec2test: RunInstances: %v", err)
			return s.errorf(http.StatusBadRequest, "InsufficientInstanceCapacity", "We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). ec2test: %v", instanceType, az, err)
		}
	}
	if inst.pending > 0 || inst.machine == machineBooting {
		inst.state = "pending"
	}
	for n := 1; ; n++ {
		p := fmt.Sprintf("TagSpecification.%d", n)
		rt := req.form.Get(p + ".ResourceType")
		if rt == "" {
			break
		}
		if rt != "instance" {
			continue
		}
		for m := 1; ; m++ {
			k := req.form.Get(fmt.Sprintf("%s.Tag.%d.Key", p, m))
			if k == "" {
				break
			}
			inst.setTag(k, req.form.Get(fmt.Sprintf("%s.Tag.%d.Value", p, m)))
		}
	}
	s.instances[inst.id] = inst
	// RunInstances.xml shows the instance pending, as EC2 does.
	body := s.instanceText(fixture("RunInstances.xml"), inst)
	return response{status: http.StatusOK, body: body, fixture: "RunInstances.xml"}
}

// instanceText fills a fixture text written for the fixtures' instance in
// with inst's ids and names.
func (s *Server) instanceText(text string, inst *instance) string {
	num := strings.TrimPrefix(inst.id, "i-")
	groupName := ""
	if g, ok := s.groups[inst.groupID]; ok {
		groupName = g.name
	}
	groupID := inst.groupID
	if groupID == "" {
		groupID = "sg-0abc1234567890000"
		groupName = "default"
	}
	text = replaceTagSet(text, inst.tags)
	if inst.publicIP != "" {
		// The fixtures' addresses (127.0.0.1 public, 127.0.0.2 private,
		// also dashed in DNS names) become the instance's own.
		dashed := func(ip string) string { return strings.ReplaceAll(ip, ".", "-") }
		text = strings.NewReplacer(
			"127.0.0.1", inst.publicIP, "127-0-0-1", dashed(inst.publicIP),
			"127.0.0.2", inst.privateIP, "127-0-0-2", dashed(inst.privateIP),
		).Replace(text)
	}
	return strings.NewReplacer(
		"eni-attach-0abc1234567890001", "eni-attach-"+num,
		"eni-0abc1234567890001", "eni-"+num,
		"r-0abc1234567890001", "r-"+num,
		"i-0abc1234567890001", inst.id,
		"vol-0abc1234567890001", "vol-"+num,
		"sg-0abc1234567890001", groupID,
		"ami-0abc1234567890001", inst.imageID,
		"packer_5f1d2a3b-7c4e-4d8f-9a0b-1c2d3e4f5a6b", esc(inst.keyName),
		"packer_6a2e3b4c-8d5f-4e9a-0b1c-2d3e4f5a6b7c", esc(groupName),
		"<instanceType>t2.micro</instanceType>", "<instanceType>"+esc(inst.instanceType)+"</instanceType>",
		"<availabilityZone>us-west-2a</availabilityZone>", "<availabilityZone>"+esc(inst.az)+"</availabilityZone>",
		DefaultRegion, inst.region,
		Account, s.account,
	).Replace(text)
}

var tagSetRE = regexp.MustCompile(`(?s)<tagSet>.*?</tagSet>`)

// replaceTagSet puts tags in place of the first <tagSet> of text.
func replaceTagSet(text string, tags [][2]string) string {
	loc := tagSetRE.FindStringIndex(text)
	if loc == nil {
		return text
	}
	var b strings.Builder
	if len(tags) == 0 {
		b.WriteString("<tagSet/>")
	} else {
		b.WriteString("<tagSet>")
		for _, t := range tags {
			fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", esc(t[0]), esc(t[1]))
		}
		b.WriteString("</tagSet>")
	}
	return text[:loc[0]] + b.String() + text[loc[1]:]
}

// stateFixture is the DescribeInstances fixture for a state.
func stateFixture(state string) string { return "DescribeInstances." + state + ".xml" }

var reservationSetRE = regexp.MustCompile(`(?s)(<reservationSet>\s*)(<item>.*</item>)(\s*</reservationSet>)`)

func (s *Server) describeInstances(req request) response {
	ids := indexed(req.form, "InstanceId")
	var found []*instance
	for _, id := range ids {
		inst := s.instanceIn(req.region, id)
		if inst == nil {
			return s.instanceNotFound(id)
		}
		found = append(found, inst)
	}
	if len(ids) == 0 {
		for _, inst := range s.instances {
			if inst.region == req.region {
				found = append(found, inst)
			}
		}
		slices.SortFunc(found, func(a, b *instance) int { return strings.Compare(a.id, b.id) })
	}
	if len(found) == 0 {
		body := fixture(stateFixture("terminated"))
		m := reservationSetRE.FindStringSubmatchIndex(body)
		body = body[:m[4]] + body[m[5]:] // an empty reservationSet
		return response{status: http.StatusOK, body: strings.Replace(body, requestIDOf(body), s.newRequestID(), 1)}
	}
	first := stateFixture(found[0].state)
	body := fixture(first)
	m := reservationSetRE.FindStringSubmatchIndex(body)
	var items strings.Builder
	var names []string
	for n, inst := range found {
		name := stateFixture(inst.state)
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		t := fixture(name)
		tm := reservationSetRE.FindStringSubmatchIndex(t)
		if n > 0 {
			items.WriteString("\n        ")
		}
		items.WriteString(s.instanceText(t[tm[4]:tm[5]], inst))
		if inst.state == "pending" {
			if inst.pending > 0 {
				inst.pending--
			}
			// A machine being booted keeps its instance pending.
			if inst.pending == 0 && inst.machine != machineBooting {
				inst.state = "running"
			}
		}
	}
	body = body[:m[4]] + items.String() + body[m[5]:]
	return response{status: http.StatusOK, body: body, fixture: strings.Join(names, ",")}
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

var (
	instancesSetRE  = regexp.MustCompile(`(?s)(<instancesSet>\s*)(<item>.*</item>)(\s*</instancesSet>)`)
	previousStateRE = regexp.MustCompile(`(?s)<previousState>.*?</previousState>`)
)

// changeStates answers StopInstances / TerminateInstances from fixture,
// moving every instance to state.
func (s *Server) changeStates(req request, name, state string) response {
	ids := indexed(req.form, "InstanceId")
	if len(ids) == 0 {
		return s.instanceNotFound("")
	}
	var found []*instance
	for _, id := range ids {
		inst := s.instanceIn(req.region, id)
		if inst == nil {
			return s.instanceNotFound(id)
		}
		if state == "stopped" && inst.state == "terminated" {
			return s.errorf(http.StatusBadRequest, "IncorrectInstanceState", "This instance '%s' is not in a state from which it can be stopped.", id)
		}
		found = append(found, inst)
	}
	body := fixture(name)
	m := instancesSetRE.FindStringSubmatchIndex(body)
	item := body[m[4]:m[5]]
	var items strings.Builder
	for n, inst := range found {
		if n > 0 {
			items.WriteString("\n        ")
		}
		prev := fmt.Sprintf("<previousState><code>%d</code><name>%s</name></previousState>", stateCodes[inst.state], inst.state)
		items.WriteString(strings.Replace(previousStateRE.ReplaceAllLiteralString(item, prev), "i-0abc1234567890001", inst.id, 1))
		was := inst.state
		inst.state, inst.pending = state, 0
		s.changeMachine(inst, was, state)
	}
	body = body[:m[4]] + items.String() + body[m[5]:]
	return response{status: http.StatusOK, body: body, fixture: name}
}

// changeMachine queues what a state change does to inst's machine; the
// caller holds mu. A machine still booting is dealt with when Boot returns.
func (s *Server) changeMachine(inst *instance, was, state string) {
	if inst.machine != machineUp || was == state {
		return
	}
	id := inst.id
	switch state {
	case "stopped":
		s.afterUnlock(func() {
			s.machineCall("Stop", id, func(ctx context.Context) error { return s.machines.Stop(ctx, id) })
		})
	case "terminated":
		inst.machine = machineGone
		s.closeListeners(inst)
		s.afterUnlock(func() {
			s.machineCall("Terminate", id, func(ctx context.Context) error { return s.machines.Terminate(ctx, id) })
		})
	}
}

func (s *Server) stopInstances(req request) response {
	return s.changeStates(req, "StopInstances.xml", "stopped")
}

func (s *Server) terminateInstances(req request) response {
	return s.changeStates(req, "TerminateInstances.xml", "terminated")
}

// describeVolumes answers no volumes: the double's instances delete theirs
// on termination, and Packer's cleanup only looks for leftovers.
func (s *Server) describeVolumes(req request) response {
	return answer("DescribeVolumes.empty.xml")
}
