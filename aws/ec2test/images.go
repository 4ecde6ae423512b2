package ec2test

import (
	"context"
	"embed"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed testdata/*.xml
var fixtures embed.FS

// fixture returns a testdata file; a missing one is a bug of the double.
func fixture(name string) string {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic("ec2test: " + err.Error())
	}
	return string(b)
}

// esc escapes s for XML character data.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Image is one AMI the double knows.
type Image struct {
	ID     string // generated (ami-0abc...) when empty
	Name   string
	Region string // default DefaultRegion
	Owner  string // owner account id; default the caller's account
	// OwnerAlias matches Owner.N=amazon / aws-marketplace ("" for accounts).
	OwnerAlias   string
	State        string // available (default), pending, failed
	CreationDate string // RFC 3339 with milliseconds; default now
	Description  string
	Public       bool
	// Architecture, VirtualizationType, RootDeviceType, RootDeviceName
	// default to x86_64, hvm, ebs, /dev/sda1.
	Architecture       string
	VirtualizationType string
	RootDeviceType     string
	RootDeviceName     string
	// BlockDevices default to the root EBS volume with a new snapshot.
	BlockDevices []BlockDevice
	Tags         map[string]string
	// LaunchPermissions are the accounts the image is shared with.
	LaunchPermissions []string
}

// BlockDevice is one block device mapping of an image.
type BlockDevice struct {
	DeviceName  string
	VirtualName string // ephemeralN for an instance store; then no EBS fields
	SnapshotID  string
	VolumeSize  int
	VolumeType  string
}

// SnapshotIDs returns the image's EBS snapshot ids.
func (img Image) SnapshotIDs() []string {
	var ids []string
	for _, b := range img.BlockDevices {
		if b.SnapshotID != "" {
			ids = append(ids, b.SnapshotID)
		}
	}
	return ids
}

// imageRec is an image and the DescribeImages answers it stays pending for.
type imageRec struct {
	Image
	pending int
}

func (img Image) clone() Image {
	img.BlockDevices = slices.Clone(img.BlockDevices)
	img.Tags = maps.Clone(img.Tags)
	img.LaunchPermissions = slices.Clone(img.LaunchPermissions)
	return img
}

// AddImage adds an image (for name look-ups, collision checks, a source
// AMI) and returns it with the defaults filled in.
func (s *Server) AddImage(img Image) Image {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	img = img.clone()
	if img.Region == "" {
		img.Region = DefaultRegion
	}
	if img.ID == "" {
		img.ID = s.nextID("ami-", s.imageUsed)
	} else if _, dup := s.images[img.ID]; dup {
		s.tb.Fatalf("ec2test: AddImage: image %s already exists", img.ID)
	}
	if !amiIDRE.MatchString(img.ID) {
		s.tb.Fatalf("ec2test: AddImage: %q is not an AMI id", img.ID)
	}
	if img.Owner == "" {
		img.Owner = s.account
	}
	if img.State == "" {
		img.State = "available"
	}
	if img.CreationDate == "" {
		img.CreationDate = now()
	}
	if img.Architecture == "" {
		img.Architecture = "x86_64"
	}
	if img.VirtualizationType == "" {
		img.VirtualizationType = "hvm"
	}
	if img.RootDeviceType == "" {
		img.RootDeviceType = "ebs"
	}
	if img.RootDeviceName == "" {
		img.RootDeviceName = "/dev/sda1"
	}
	if len(img.BlockDevices) == 0 {
		img.BlockDevices = []BlockDevice{{DeviceName: img.RootDeviceName}}
	}
	for i := range img.BlockDevices {
		b := &img.BlockDevices[i]
		if b.VirtualName != "" {
			continue
		}
		if b.SnapshotID == "" {
			b.SnapshotID = s.nextID("snap-", s.snapshotUsed)
		}
		if b.VolumeSize == 0 {
			b.VolumeSize = 8
		}
		if b.VolumeType == "" {
			b.VolumeType = "gp2"
		}
		s.snapshots[b.SnapshotID] = true
	}
	s.images[img.ID] = &imageRec{Image: img}
	return img.clone()
}

// Images returns every image the double holds, sorted by region and id.
func (s *Server) Images() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Image
	for _, r := range s.images {
		out = append(out, r.clone())
	}
	slices.SortFunc(out, func(a, b Image) int {
		return strings.Compare(a.Region+"/"+a.ID, b.Region+"/"+b.ID)
	})
	return out
}

// ImagesNamed returns the images called name, in every region.
func (s *Server) ImagesNamed(name string) []Image {
	var out []Image
	for _, img := range s.Images() {
		if img.Name == name {
			out = append(out, img)
		}
	}
	return out
}

func (s *Server) imageUsed(id string) bool { _, ok := s.images[id]; return ok }

func (s *Server) snapshotUsed(id string) bool { return s.snapshots[id] }

// sourceImage is the fixtures' base image, from DescribeImages.source.xml.
func sourceImage() Image {
	imgs, err := decodeImages(fixture("DescribeImages.source.xml"))
	if err != nil || len(imgs) != 1 {
		panic(fmt.Sprintf("ec2test: DescribeImages.source.xml: %v", err))
	}
	img := imgs[0]
	img.Region = DefaultRegion
	return img
}

var amiIDRE = regexp.MustCompile(`^ami-[0-9a-f]+$`)

// ---- wire shapes (the elements of the DescribeImages fixtures) ----

type xmlImages struct {
	Items []xmlImage `xml:"imagesSet>item"`
}

type xmlImage struct {
	XMLName            xml.Name   `xml:"item"`
	ImageID            string     `xml:"imageId"`
	ImageLocation      string     `xml:"imageLocation"`
	ImageState         string     `xml:"imageState"`
	ImageOwnerID       string     `xml:"imageOwnerId"`
	CreationDate       string     `xml:"creationDate"`
	IsPublic           bool       `xml:"isPublic"`
	Architecture       string     `xml:"architecture"`
	ImageType          string     `xml:"imageType"`
	PlatformDetails    string     `xml:"platformDetails"`
	UsageOperation     string     `xml:"usageOperation"`
	ImageOwnerAlias    string     `xml:"imageOwnerAlias,omitempty"`
	Name               string     `xml:"name"`
	Description        string     `xml:"description,omitempty"`
	RootDeviceType     string     `xml:"rootDeviceType"`
	RootDeviceName     string     `xml:"rootDeviceName"`
	BlockDeviceMapping []xmlBDM   `xml:"blockDeviceMapping>item"`
	VirtualizationType string     `xml:"virtualizationType"`
	TagSet             *xmlTagSet `xml:"tagSet,omitempty"`
	Hypervisor         string     `xml:"hypervisor"`
	EnaSupport         bool       `xml:"enaSupport"`
	SriovNetSupport    string     `xml:"sriovNetSupport"`
}

type xmlBDM struct {
	DeviceName  string  `xml:"deviceName"`
	VirtualName string  `xml:"virtualName,omitempty"`
	Ebs         *xmlEBS `xml:"ebs,omitempty"`
}

type xmlEBS struct {
	SnapshotID          string `xml:"snapshotId"`
	VolumeSize          int    `xml:"volumeSize"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	VolumeType          string `xml:"volumeType"`
	Encrypted           bool   `xml:"encrypted"`
}

type xmlTagSet struct {
	Items []xmlTag `xml:"item"`
}

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func (s *xmlTagSet) items() []xmlTag {
	if s == nil {
		return nil
	}
	return s.Items
}

func decodeImages(body string) ([]Image, error) {
	var v xmlImages
	if err := xml.Unmarshal([]byte(body), &v); err != nil {
		return nil, err
	}
	var out []Image
	for _, x := range v.Items {
		img := Image{
			ID: x.ImageID, Name: x.Name, Owner: x.ImageOwnerID, OwnerAlias: x.ImageOwnerAlias,
			State: x.ImageState, CreationDate: x.CreationDate, Description: x.Description,
			Public: x.IsPublic, Architecture: x.Architecture, VirtualizationType: x.VirtualizationType,
			RootDeviceType: x.RootDeviceType, RootDeviceName: x.RootDeviceName,
		}
		for _, b := range x.BlockDeviceMapping {
			bd := BlockDevice{DeviceName: b.DeviceName, VirtualName: b.VirtualName}
			if b.Ebs != nil {
				bd.SnapshotID, bd.VolumeSize, bd.VolumeType = b.Ebs.SnapshotID, b.Ebs.VolumeSize, b.Ebs.VolumeType
			}
			img.BlockDevices = append(img.BlockDevices, bd)
		}
		for _, t := range x.TagSet.items() {
			if img.Tags == nil {
				img.Tags = map[string]string{}
			}
			img.Tags[t.Key] = t.Value
		}
		out = append(out, img)
	}
	return out, nil
}

func encodeImage(img Image) xmlImage {
	x := xmlImage{
		ImageID: img.ID, ImageLocation: img.Owner + "/" + img.Name, ImageState: img.State,
		ImageOwnerID: img.Owner, CreationDate: img.CreationDate, IsPublic: img.Public,
		Architecture: img.Architecture, ImageType: "machine", PlatformDetails: "Linux/UNIX",
		UsageOperation: "RunInstances", ImageOwnerAlias: img.OwnerAlias, Name: img.Name,
		Description: img.Description, RootDeviceType: img.RootDeviceType,
		RootDeviceName: img.RootDeviceName, VirtualizationType: img.VirtualizationType,
		Hypervisor: "xen", EnaSupport: true, SriovNetSupport: "simple",
	}
	if img.OwnerAlias != "" {
		x.ImageLocation = img.OwnerAlias + "/" + img.Name
	}
	for _, b := range img.BlockDevices {
		xb := xmlBDM{DeviceName: b.DeviceName, VirtualName: b.VirtualName}
		if b.VirtualName == "" {
			xb.Ebs = &xmlEBS{SnapshotID: b.SnapshotID, VolumeSize: b.VolumeSize, DeleteOnTermination: true, VolumeType: b.VolumeType}
		}
		x.BlockDeviceMapping = append(x.BlockDeviceMapping, xb)
	}
	for _, k := range slices.Sorted(maps.Keys(img.Tags)) {
		if x.TagSet == nil {
			x.TagSet = &xmlTagSet{}
		}
		x.TagSet.Items = append(x.TagSet.Items, xmlTag{Key: k, Value: img.Tags[k]})
	}
	return x
}

// renderImages answers DescribeImages with imgs (and a NextToken); the
// caller holds mu.
func (s *Server) renderImages(imgs []Image, next string) response {
	if len(imgs) == 0 && next == "" {
		return answer("DescribeImages.empty.xml")
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n")
	fmt.Fprintf(&b, "    <requestId>%s</requestId>\n    <imagesSet>\n", s.newRequestID())
	for _, img := range imgs {
		out, err := xml.MarshalIndent(encodeImage(img), "        ", "    ")
		if err != nil {
			return s.errorf(http.StatusInternalServerError, "InternalError", "ec2test: %v", err)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	b.WriteString("    </imagesSet>\n")
	if next != "" {
		fmt.Fprintf(&b, "    <nextToken>%s</nextToken>\n", esc(next))
	}
	b.WriteString("</DescribeImagesResponse>\n")
	return response{status: http.StatusOK, body: b.String()}
}

// ---- Query API parameters ----

// indexed returns the values of prefix.1, prefix.2, ... in index order
// (EC2's flattened lists), skipping empty values.
func indexed(form map[string][]string, prefix string) []string {
	type iv struct {
		i int
		v string
	}
	var got []iv
	for k, vs := range form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || len(vs) == 0 || vs[0] == "" {
			continue
		}
		got = append(got, iv{i, vs[0]})
	}
	slices.SortFunc(got, func(a, b iv) int { return a.i - b.i })
	out := make([]string, len(got))
	for i, g := range got {
		out[i] = g.v
	}
	return out
}

// filter is one Filter.N: Name and its values (any may match).
type filter struct {
	name   string
	values []string
}

var filterKeyRE = regexp.MustCompile(`^Filter\.(\d+)\.Name$`)

func parseFilters(form map[string][]string) []filter {
	var idx []int
	for k := range form {
		if m := filterKeyRE.FindStringSubmatch(k); m != nil {
			n, _ := strconv.Atoi(m[1])
			idx = append(idx, n)
		}
	}
	slices.Sort(idx)
	var out []filter
	for _, n := range idx {
		p := "Filter." + strconv.Itoa(n)
		out = append(out, filter{name: first(form[p+".Name"]), values: indexed(form, p+".Value")})
	}
	return out
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// wildcard reports whether s matches an EC2 filter value: * is any run of
// characters, ? any one character, \ escapes the next character.
func wildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	var re strings.Builder
	re.WriteString(`^`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			} else {
				re.WriteString(`\\`)
			}
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString(`$`)
	return regexp.MustCompile("(?s)" + re.String()).MatchString(s)
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// imageFilter returns the image field a DescribeImages filter tests, or
// false for a filter EC2 does not know (or the double does not support).
func imageFilter(name string, img Image) ([]string, bool) {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, has := img.Tags[key]; has {
			return []string{v}, true
		}
		return nil, true
	}
	switch name {
	case "name":
		return []string{img.Name}, true
	case "image-id":
		return []string{img.ID}, true
	case "state":
		return []string{img.State}, true
	case "owner-id":
		return []string{img.Owner}, true
	case "owner-alias":
		return []string{img.OwnerAlias}, true
	case "description":
		return []string{img.Description}, true
	case "architecture":
		return []string{img.Architecture}, true
	case "virtualization-type":
		return []string{img.VirtualizationType}, true
	case "root-device-type":
		return []string{img.RootDeviceType}, true
	case "root-device-name":
		return []string{img.RootDeviceName}, true
	case "image-type":
		return []string{"machine"}, true
	case "hypervisor":
		return []string{"xen"}, true
	case "is-public":
		return []string{strconv.FormatBool(img.Public)}, true
	case "tag-key":
		return slices.Collect(maps.Keys(img.Tags)), true
	case "tag-value":
		return slices.Collect(maps.Values(img.Tags)), true
	case "block-device-mapping.snapshot-id":
		return img.SnapshotIDs(), true
	}
	return nil, false
}

// visible reports whether the caller can see img: its own, public, or
// shared with it.
func (s *Server) visible(img Image) bool {
	return img.Owner == s.account || img.Public || slices.Contains(img.LaunchPermissions, s.account)
}

// ownedBy reports whether img matches one Owner.N value.
func (s *Server) ownedBy(img Image, owners []string) bool {
	for _, o := range owners {
		switch {
		case o == "self" && img.Owner == s.account,
			o == img.Owner,
			img.OwnerAlias != "" && o == img.OwnerAlias:
			return true
		}
	}
	return false
}

// executableBy reports whether img matches one ExecutableBy.N value.
func (s *Server) executableBy(img Image, who []string) bool {
	for _, w := range who {
		switch {
		case w == "all" && img.Public,
			(w == "self" || w == s.account) && (img.Owner == s.account || img.Public || slices.Contains(img.LaunchPermissions, s.account)),
			slices.Contains(img.LaunchPermissions, w):
			return true
		}
	}
	return false
}

// imageIn returns the image id in region, or nil.
func (s *Server) imageIn(region, id string) *imageRec {
	r, ok := s.images[id]
	if !ok || r.Region != region {
		return nil
	}
	return r
}

// ---- actions ----

func (s *Server) describeRegions(req request) response {
	return answer("DescribeRegions.xml")
}

func (s *Server) describeImages(req request) response {
	ids := indexed(req.form, "ImageId")
	owners := indexed(req.form, "Owner")
	execBy := indexed(req.form, "ExecutableBy")
	filters := parseFilters(req.form)
	for _, id := range ids {
		if !amiIDRE.MatchString(id) {
			return s.errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
		}
	}
	for _, f := range filters {
		if _, known := imageFilter(f.name, Image{}); !known {
			return s.errorf(http.StatusBadRequest, "InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
	}
	maxResults := 0
	if v := req.form.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return s.errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter maxResults is invalid. Expecting a value between 1 and 1000.", v)
		}
		if len(ids) > 0 {
			return s.errorf(http.StatusBadRequest, "InvalidParameterCombination", "The parameter imageIdsSet cannot be used with the parameter maxResults")
		}
		maxResults = n
	}
	var missing []string
	for _, id := range ids {
		if r := s.imageIn(req.region, id); r == nil || !s.visible(r.Image) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return s.amiNotFound(missing)
	}
	var out []*imageRec
	for _, r := range s.images {
		img := r.Image
		if img.Region != req.region || !s.visible(img) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, img.ID) {
			continue
		}
		if len(owners) > 0 && !s.ownedBy(img, owners) {
			continue
		}
		if len(execBy) > 0 && !s.executableBy(img, execBy) {
			continue
		}
		match := true
		for _, f := range filters {
			vals, _ := imageFilter(f.name, img)
			hit := false
			for _, v := range vals {
				if anyMatch(f.values, v) {
					hit = true
					break
				}
			}
			if !hit {
				match = false
				break
			}
		}
		if match {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *imageRec) int { return strings.Compare(a.ID, b.ID) })
	next := ""
	if maxResults > 0 {
		start := 0
		if tok := req.form.Get("NextToken"); tok != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
			if err != nil || !strings.HasPrefix(tok, "page-") || n < 0 || n > len(out) {
				return s.errorf(http.StatusBadRequest, "InvalidPaginationToken", "The pagination token is not valid.")
			}
			start = n
		}
		end := min(start+maxResults, len(out))
		if end < len(out) {
			next = "page-" + strconv.Itoa(end)
		}
		out = out[start:end]
	}
	imgs := make([]Image, len(out))
	for i, r := range out {
		imgs[i] = r.clone()
		if r.State == "pending" {
			if r.pending > 0 {
				r.pending--
			}
			if r.pending == 0 {
				r.State = "available"
			}
		}
	}
	return s.renderImages(imgs, next)
}

// addNewImage stores a created or copied image; the caller holds mu.
func (s *Server) addNewImage(img Image, pending int) *imageRec {
	img.ID = s.nextID("ami-", s.imageUsed)
	img.State = "available"
	if pending > 0 {
		img.State = "pending"
	}
	for i := range img.BlockDevices {
		if b := &img.BlockDevices[i]; b.VirtualName == "" {
			b.SnapshotID = s.nextID("snap-", s.snapshotUsed)
			s.snapshots[b.SnapshotID] = true
		}
	}
	r := &imageRec{Image: img, pending: pending}
	s.images[img.ID] = r
	return r
}

// nameTaken returns the id of the caller's image called name in region.
func (s *Server) nameTaken(region, name string) string {
	for _, r := range s.images {
		if r.Region == region && r.Owner == s.account && r.Name == name {
			return r.ID
		}
	}
	return ""
}

var amiNameRE = regexp.MustCompile(`^[a-zA-Z0-9().\-/_ \[\]'@,]{3,128}$`)

func (s *Server) checkNewName(region, name string) (response, bool) {
	if name == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter name"), false
	}
	if !amiNameRE.MatchString(name) {
		return s.errorf(http.StatusBadRequest, "InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'"), false
	}
	if id := s.nameTaken(region, name); id != "" {
		return s.errorf(http.StatusBadRequest, "InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, id), false
	}
	return response{}, true
}

// tagSpecs returns the tags of the TagSpecification.N with resourceType.
func tagSpecs(form map[string][]string, resourceType string) map[string]string {
	var tags map[string]string
	for n := 1; ; n++ {
		p := "TagSpecification." + strconv.Itoa(n)
		rt := first(form[p+".ResourceType"])
		if rt == "" {
			return tags
		}
		if rt != resourceType {
			continue
		}
		for m := 1; ; m++ {
			k := first(form[p+".Tag."+strconv.Itoa(m)+".Key"])
			if k == "" {
				break
			}
			if tags == nil {
				tags = map[string]string{}
			}
			tags[k] = first(form[p+".Tag."+strconv.Itoa(m)+".Value"])
		}
	}
}

func (s *Server) createImage(req request) response {
	id := req.form.Get("InstanceId")
	inst := s.instanceIn(req.region, id)
	if inst == nil {
		return s.instanceNotFound(id)
	}
	if inst.state != "running" && inst.state != "stopped" {
		return s.errorf(http.StatusBadRequest, "IncorrectInstanceState", "The instance '%s' is not in the 'running' or 'stopped' states.", id)
	}
	name := req.form.Get("Name")
	if res, ok := s.checkNewName(req.region, name); !ok {
		return res
	}
	src := inst.source
	img := Image{
		Name: name, Region: req.region, Owner: s.account, CreationDate: now(),
		Description: req.form.Get("Description"), Architecture: src.Architecture,
		VirtualizationType: src.VirtualizationType, RootDeviceType: "ebs",
		RootDeviceName: src.RootDeviceName, BlockDevices: slices.Clone(src.BlockDevices),
		Tags: tagSpecs(req.form, "image"),
	}
	r := s.addNewImage(img, s.pendingImg)
	if inst.machine == machineUp {
		// The AMI is the machine's disk: instances launched from it boot
		// what the bake installed.
		s.disks[r.ID] = r.ID
		amiID, instID := r.ID, inst.id
		s.afterUnlock(func() {
			if s.machineCall("Capture", instID, func(ctx context.Context) error { return s.machines.Capture(ctx, instID, amiID) }) != nil {
				s.mu.Lock()
				r.State, r.pending = "failed", 0
				delete(s.disks, amiID)
				s.mu.Unlock()
			}
		})
	}
	return answer("CreateImage.xml", "ami-0abc1234567890002", r.ID)
}

func (s *Server) copyImage(req request) response {
	srcRegion, srcID := req.form.Get("SourceRegion"), req.form.Get("SourceImageId")
	if srcRegion == "" || srcID == "" {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameters SourceRegion and SourceImageId")
	}
	src := s.imageIn(srcRegion, srcID)
	if src == nil || !s.visible(src.Image) {
		return s.amiNotFound([]string{srcID})
	}
	if src.State != "available" {
		return s.errorf(http.StatusBadRequest, "IncorrectState", "Image %s is not in a valid state for copying: %s", srcID, src.State)
	}
	name := req.form.Get("Name")
	if name == "" {
		name = src.Name
	}
	if res, ok := s.checkNewName(req.region, name); !ok {
		return res
	}
	desc := req.form.Get("Description")
	if desc == "" {
		desc = fmt.Sprintf("[Copied %s from %s] %s", srcID, srcRegion, src.Name)
	}
	img := Image{
		Name: name, Region: req.region, Owner: s.account, CreationDate: now(),
		Description: desc, Architecture: src.Architecture,
		VirtualizationType: src.VirtualizationType, RootDeviceType: src.RootDeviceType,
		RootDeviceName: src.RootDeviceName,
	}
	for _, b := range src.BlockDevices {
		if b.VirtualName == "" {
			img.BlockDevices = append(img.BlockDevices, b)
		}
	}
	if req.form.Get("CopyImageTags") == "true" {
		img.Tags = maps.Clone(src.Tags)
	}
	if t := tagSpecs(req.form, "image"); t != nil {
		if img.Tags == nil {
			img.Tags = map[string]string{}
		}
		maps.Copy(img.Tags, t)
	}
	r := s.addNewImage(img, s.pendingCopy)
	if d, ok := s.disks[srcID]; ok {
		s.disks[r.ID] = d
	}
	return answer("CopyImage.xml", "ami-0abc1234567890003", r.ID)
}

func (s *Server) modifyImageAttribute(req request) response {
	id := req.form.Get("ImageId")
	r := s.imageIn(req.region, id)
	if r == nil || !s.visible(r.Image) {
		return s.amiNotFound([]string{id})
	}
	if r.Owner != s.account {
		return s.errorf(http.StatusForbidden, "AuthFailure", "Not authorized for image:%s", id)
	}
	remove := req.form.Get("OperationType") == "remove"
	users := indexed(req.form, "UserId")
	groups := indexed(req.form, "UserGroup")
	var addUsers, delUsers, addGroups, delGroups []string
	if remove {
		delUsers, delGroups = users, groups
	} else {
		addUsers, addGroups = users, groups
	}
	for n := 1; ; n++ {
		u := first(req.form["LaunchPermission.Add."+strconv.Itoa(n)+".UserId"])
		g := first(req.form["LaunchPermission.Add."+strconv.Itoa(n)+".Group"])
		if u == "" && g == "" {
			break
		}
		addUsers, addGroups = appendNonEmpty(addUsers, u), appendNonEmpty(addGroups, g)
	}
	for n := 1; ; n++ {
		u := first(req.form["LaunchPermission.Remove."+strconv.Itoa(n)+".UserId"])
		g := first(req.form["LaunchPermission.Remove."+strconv.Itoa(n)+".Group"])
		if u == "" && g == "" {
			break
		}
		delUsers, delGroups = appendNonEmpty(delUsers, u), appendNonEmpty(delGroups, g)
	}
	for _, u := range addUsers {
		if !slices.Contains(r.LaunchPermissions, u) {
			r.LaunchPermissions = append(r.LaunchPermissions, u)
		}
	}
	r.LaunchPermissions = slices.DeleteFunc(r.LaunchPermissions, func(u string) bool { return slices.Contains(delUsers, u) })
	if slices.Contains(addGroups, "all") {
		r.Public = true
	}
	if slices.Contains(delGroups, "all") {
		r.Public = false
	}
	if d := req.form.Get("Description.Value"); d != "" {
		r.Description = d
	}
	return answer("ModifyImageAttribute.xml")
}

func appendNonEmpty(s []string, v string) []string {
	if v == "" {
		return s
	}
	return append(s, v)
}

func (s *Server) createTags(req request) response {
	ids := indexed(req.form, "ResourceId")
	if len(ids) == 0 {
		return s.errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	tags := map[string]string{}
	for n := 1; ; n++ {
		p := "Tag." + strconv.Itoa(n)
		k, has := req.form[p+".Key"]
		if !has {
			break
		}
		tags[first(k)] = first(req.form[p+".Value"])
	}
	// Check every resource first: EC2 tags all or nothing.
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "ami-"):
			if r := s.imageIn(req.region, id); r == nil || r.Owner != s.account {
				return s.amiNotFound([]string{id})
			}
		case strings.HasPrefix(id, "snap-"):
			if !s.snapshots[id] {
				return s.errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
			}
		case strings.HasPrefix(id, "i-"):
			if s.instanceIn(req.region, id) == nil {
				return s.instanceNotFound(id)
			}
		}
	}
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "ami-"):
			r := s.images[id]
			if r.Tags == nil {
				r.Tags = map[string]string{}
			}
			maps.Copy(r.Tags, tags)
		case strings.HasPrefix(id, "i-"):
			inst := s.instances[id]
			for _, k := range slices.Sorted(maps.Keys(tags)) {
				inst.setTag(k, tags[k])
			}
		}
	}
	return answer("CreateTags.xml")
}

func (s *Server) deregisterImage(req request) response {
	id := req.form.Get("ImageId")
	r := s.imageIn(req.region, id)
	if r == nil || r.Owner != s.account {
		return s.amiNotFound([]string{id})
	}
	delete(s.images, id)
	return s.returnTrue(req.action)
}

func (s *Server) deleteSnapshot(req request) response {
	id := req.form.Get("SnapshotId")
	if !s.snapshots[id] {
		return s.errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	for _, r := range s.images {
		if slices.Contains(r.SnapshotIDs(), id) {
			return s.errorf(http.StatusBadRequest, "InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, r.ID)
		}
	}
	delete(s.snapshots, id)
	return s.returnTrue(req.action)
}

func (s *Server) modifySnapshotAttribute(req request) response {
	id := req.form.Get("SnapshotId")
	if !s.snapshots[id] {
		return s.errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return s.returnTrue(req.action)
}

// returnTrue answers an action that has no fixture of its own in the shape
// of ModifyImageAttribute.xml (<return>true</return>).
func (s *Server) returnTrue(action string) response {
	body := strings.NewReplacer(
		"ModifyImageAttributeResponse", action+"Response",
		requestIDOf(fixture("ModifyImageAttribute.xml")), s.newRequestID(),
	).Replace(fixture("ModifyImageAttribute.xml"))
	return response{status: http.StatusOK, body: body}
}
