package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/aws/ec2test"
)

const (
	fakeKeyID  = "AKIDBAKEHOUSETEST01"
	fakeSecret = "bakehouse-test-secret-do-not-print"
)

// isolate gives the test an AWS environment of its own: fake static
// credentials, no shared config files, no instance metadata, no endpoint
// from the machine's environment.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
		"AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", fakeKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakeSecret)
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// newClient returns a client of the double (through Options.Endpoint).
func newClient(t *testing.T, srv *ec2test.Server, opts Options) *Client {
	t.Helper()
	opts.Endpoint = srv.Endpoint()
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// seedBases adds trusty base images: three of the caller's in us-west-2
// (the newest pending), one of another account, one in us-east-1.
func seedBases(srv *ec2test.Server) map[string]ec2test.Image {
	add := func(key string, img ec2test.Image) (string, ec2test.Image) { return key, srv.AddImage(img) }
	m := map[string]ec2test.Image{}
	for _, kv := range []struct {
		key string
		img ec2test.Image
	}{
		{"old", ec2test.Image{Name: "trusty-base-20240101", CreationDate: "2024-01-01T10:00:00.000Z"}},
		{"new", ec2test.Image{Name: "trusty-base-20240301", CreationDate: "2024-03-01T10:00:00.000Z", Tags: map[string]string{"appversion": "base-2"}}},
		{"mid", ec2test.Image{Name: "trusty-base-20240201", CreationDate: "2024-02-01T10:00:00.000Z", Tags: map[string]string{"appversion": "base-1"}}},
		{"pending", ec2test.Image{Name: "trusty-base-20240401", CreationDate: "2024-04-01T10:00:00.000Z", State: "pending"}},
		{"pv", ec2test.Image{Name: "trusty-base-pv-20240501", CreationDate: "2024-05-01T10:00:00.000Z", VirtualizationType: "paravirtual"}},
		{"foreign", ec2test.Image{Name: "trusty-base-20240601", CreationDate: "2024-06-01T10:00:00.000Z", Owner: "210987654321", Public: true}},
		{"east", ec2test.Image{Name: "trusty-base-20240701", CreationDate: "2024-07-01T10:00:00.000Z", Region: "us-east-1"}},
	} {
		k, img := add(kv.key, kv.img)
		m[k] = img
	}
	return m
}

func TestFindImagesNewestMatch(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t)
	imgs := seedBases(srv)
	c := newClient(t, srv, Options{})

	// A name without wildcards matches as a substring (clouddriver's find);
	// pending images are left out; every owner the credentials see counts.
	got, err := c.FindImages(ctx(t), "us-west-2", "trusty-base-", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range got {
		names = append(names, n.ImageName)
	}
	want := []string{"trusty-base-20240101", "trusty-base-20240201", "trusty-base-20240301", "trusty-base-20240601", "trusty-base-pv-20240501"}
	if !slices.Equal(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	if a := bakehouse.SelectSourceAMI(got, "us-west-2", "hvm", true); a != imgs["foreign"].ID {
		t.Errorf("newest hvm = %s, want the foreign %s", a, imgs["foreign"].ID)
	}
	if a := bakehouse.SelectSourceAMI(got, "us-west-2", "paravirtual", true); a != imgs["pv"].ID {
		t.Errorf("newest pv = %s, want %s", a, imgs["pv"].ID)
	}
	// Owners restrict the search.
	got, err = c.FindImages(ctx(t), "us-west-2", "trusty-base-2*", []string{"self"})
	if err != nil {
		t.Fatal(err)
	}
	if a := bakehouse.SelectSourceAMI(got, "us-west-2", "hvm", true); a != imgs["new"].ID {
		t.Errorf("newest of self = %s, want %s (%+v)", a, imgs["new"].ID, got)
	}
	if n := got[0]; n.Attributes.VirtualizationType != "hvm" || n.Attributes.CreationDate != "2024-01-01T10:00:00.000Z" {
		t.Errorf("attributes = %+v", n.Attributes)
	}
	// The call was signed for the region asked, with the filters EC2 knows.
	calls := srv.CallsTo("DescribeImages")
	last := calls[len(calls)-1]
	if last.Region != "us-west-2" || last.Form.Get("Owner.1") != "self" ||
		last.Form.Get("Filter.1.Name") != "name" || last.Form.Get("Filter.1.Value.1") != "trusty-base-2*" ||
		last.Form.Get("Filter.2.Name") != "state" || last.Form.Get("Filter.2.Value.1") != "available" {
		t.Errorf("DescribeImages call = %+v", last)
	}
	// Another region has its own images.
	got, err = c.FindImages(ctx(t), "us-east-1", "trusty-base", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].AMIs["us-east-1"][0] != imgs["east"].ID {
		t.Errorf("us-east-1: %+v", got)
	}
	// An AMI id finds that image; nothing found is no error.
	got, err = c.FindImages(ctx(t), "us-west-2", ec2test.SourceAMI, nil)
	if err != nil || len(got) != 1 || got[0].ImageName != ec2test.SourceAMIName {
		t.Errorf("by id: %+v, %v", got, err)
	}
	got, err = c.FindImages(ctx(t), "us-west-2", "no-such-image", nil)
	if err != nil || len(got) != 0 {
		t.Errorf("no match: %+v, %v", got, err)
	}
}

// The root package's recipe resolves a base image given by name through
// the adapter: the newest match when mostRecent is set.
func TestImageFinderResolvesSourceAMI(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t)
	imgs := seedBases(srv)
	c := newClient(t, srv, Options{})

	var cfg bakehouse.Config
	cfg.AWS.Enabled = true
	cfg.AWS.BakeryDefaults = bakehouse.AWSBakeryDefaults{
		TemplateFile: "aws-ebs.json",
		BaseImages: []bakehouse.AWSBaseImage{{
			BaseImage: bakehouse.BaseImage{ID: "trusty", PackageType: "deb"},
			VirtualizationSettings: []bakehouse.AWSVirtualizationSettings{
				{Region: "us-west-2", VirtualizationType: "hvm", InstanceType: "t2.micro", SourceAMI: "trusty-base-", MostRecent: true},
			},
		}},
	}
	var accounts []string
	finder := c.ImageFinder(ctx(t), func(account string) []string {
		accounts = append(accounts, account)
		if account == "prod" {
			return []string{"self"}
		}
		return nil
	})
	req := bakehouse.BakeRequest{Package: "app", BaseOS: "trusty", CloudProviderType: "aws", AccountName: "prod"}
	r, err := bakehouse.Resolve("us-west-2", req, cfg, bakehouse.Lookups{FindImages: finder})
	if err != nil {
		t.Fatal(err)
	}
	if r.SourceImage != imgs["new"].ID || !slices.Equal(accounts, []string{"prod"}) {
		t.Errorf("source AMI = %s (accounts %v), want %s", r.SourceImage, accounts, imgs["new"].ID)
	}
	req.AccountName, req.BaseAMI = "", "trusty-base-2024"
	if r, err = bakehouse.Resolve("us-west-2", req, cfg, bakehouse.Lookups{FindImages: finder}); err != nil || r.SourceImage != imgs["foreign"].ID {
		t.Errorf("base_ami by name: source AMI = %s, %v; want %s", r.SourceImage, err, imgs["foreign"].ID)
	}
}

func TestImageByName(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t)
	mine := srv.AddImage(ec2test.Image{Name: "app-1.0-trusty"})
	srv.AddImage(ec2test.Image{Name: "app-1.1-trusty", Owner: "210987654321", Public: true})
	srv.AddImage(ec2test.Image{Name: "app-1.2-trusty", Region: "us-east-1"})
	c := newClient(t, srv, Options{})

	for _, tc := range []struct {
		region, name string
		id           string
	}{
		{"us-west-2", "app-1.0-trusty", mine.ID},
		{"", "app-1.0-trusty", mine.ID},          // the configured region
		{"us-west-2", "app-1.1-trusty", ""},      // another account's
		{"us-west-2", "app-1.2-trusty", ""},      // another region's
		{"us-west-2", "app-1.?-trusty", ""},      // no wildcards
		{"us-west-2", "app-1.0-trusty*", ""},     // exact
		{"us-west-2", "app-1.0-trust", ""},       // not a substring search
		{"us-east-1", "app-1.0-trusty", ""},      // per region
		{"us-west-2", ec2test.SourceAMIName, ""}, // Canonical's, not ours
	} {
		id, found, err := c.ImageByName(ctx(t), tc.region, tc.name)
		if err != nil || id != tc.id || found != (tc.id != "") {
			t.Errorf("ImageByName(%q, %q) = %q, %v, %v; want %q", tc.region, tc.name, id, found, err, tc.id)
		}
	}
	last := srv.CallsTo("DescribeImages")[0]
	if last.Form.Get("Owner.1") != "self" || last.Form.Get("Filter.1.Name") != "name" || last.Form.Get("Filter.1.Value.1") != "app-1.0-trusty" {
		t.Errorf("collision check call = %v", last.Form)
	}
}

func TestImagesByTag(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t)
	imgs := seedBases(srv)
	c := newClient(t, srv, Options{})

	got, err := c.ImagesByTag(ctx(t), "us-west-2", "appversion", "base-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != imgs["new"].ID || got[1].ID != imgs["mid"].ID {
		t.Fatalf("ImagesByTag = %+v", got)
	}
	if g := got[0]; g.Name != "trusty-base-20240301" || g.Tags["appversion"] != "base-2" || g.Region != "us-west-2" ||
		g.State != "available" || g.OwnerID != ec2test.Account || g.CreationDate != "2024-03-01T10:00:00.000Z" {
		t.Errorf("image = %+v", g)
	}
	got, err = c.ImagesByTag(ctx(t), "us-west-2", "appversion", "base-1")
	if err != nil || len(got) != 1 || got[0].ID != imgs["mid"].ID {
		t.Errorf("exact value: %+v, %v", got, err)
	}
	if _, err := c.ImagesByTag(ctx(t), "us-west-2", "", "x"); err == nil {
		t.Error("no key: no error")
	}
}

func TestTaggedImages(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t)
	a := srv.AddImage(ec2test.Image{Name: "mypackage-all-20240101-trusty", CreationDate: "2024-01-01T10:00:00.000Z", Tags: map[string]string{"engine": "spinnaker", "appversion": "mypackage-1.0-h1.abc/job/1"}})
	b := srv.AddImage(ec2test.Image{Name: "mypackage-all-20240301-trusty", CreationDate: "2024-03-01T10:00:00.000Z", Tags: map[string]string{"engine": "spinnaker", "appversion": "mypackage-1.1-h2.abc/job/2"}})
	srv.AddImage(ec2test.Image{Name: "mypackage-all-20240401-trusty", CreationDate: "2024-04-01T10:00:00.000Z", Tags: map[string]string{"engine": "other"}})
	srv.AddImage(ec2test.Image{Name: "else-all-20240501-trusty", CreationDate: "2024-05-01T10:00:00.000Z", Tags: map[string]string{"engine": "spinnaker"}})
	srv.AddImage(ec2test.Image{Name: "mypackage-all-20240601-trusty", CreationDate: "2024-06-01T10:00:00.000Z", Region: "us-east-1", Tags: map[string]string{"engine": "spinnaker"}})
	c := newClient(t, srv, Options{})
	got, err := c.TaggedImages(ctx(t), "us-west-2", "mypackage", map[string]string{"engine": "spinnaker"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID || got[0].Tags["appversion"] != "mypackage-1.1-h2.abc/job/2" {
		t.Fatalf("TaggedImages = %+v; want %s then %s", got, b.ID, a.ID)
	}
	got, err = c.TaggedImages(ctx(t), "us-west-2", "mypackage", map[string]string{"engine": "spinnaker", "appversion": "mypackage-1.0*"}, nil)
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("two tags: %+v, %v", got, err)
	}
}

func TestPagination(t *testing.T) {
	isolate(t)
	srv := ec2test.New(t, ec2test.Quiet())
	for i := range 7 {
		srv.AddImage(ec2test.Image{Name: fmt.Sprintf("paged-%d", i), Tags: map[string]string{"k": "v"}})
	}
	c := newClient(t, srv, Options{pageSize: 3})
	got, err := c.ImagesByTag(ctx(t), "us-west-2", "k", "v")
	if err != nil || len(got) != 7 {
		t.Fatalf("got %d images, %v", len(got), err)
	}
	// Three pages; the SDK may retry a call on a loaded machine, so count
	// the distinct pages asked for, not the calls.
	calls := srv.CallsTo("DescribeImages")
	pages := map[string]bool{}
	for _, c := range calls {
		if c.Form.Get("MaxResults") != "3" {
			t.Errorf("call without MaxResults=3: %v", c.Form)
		}
		pages[c.Form.Get("NextToken")] = true
	}
	if len(pages) != 3 || !pages[""] {
		t.Errorf("pages asked for: %v (calls %d), want the first page and two NextTokens", pages, len(calls))
	}
}

// The standard environment is honoured: AWS_ENDPOINT_URL_EC2, then
// AWS_ENDPOINT_URL, reach the double without Options.Endpoint.
func TestEndpointFromEnvironment(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			isolate(t)
			srv := ec2test.New(t)
			t.Setenv(env, srv.Endpoint())
			t.Setenv("AWS_REGION", "eu-west-1")
			c, err := New(context.Background(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Region() != "eu-west-1" {
				t.Errorf("Region() = %q", c.Region())
			}
			if _, _, err := c.ImageByName(ctx(t), "", "x-image"); err != nil {
				t.Fatal(err)
			}
			calls := srv.Calls()
			if len(calls) != 1 || calls[0].Region != "eu-west-1" {
				t.Errorf("calls = %+v", calls)
			}
		})
	}
	// The Env of the double does the same for other packages' tests.
	isolate(t)
	srv := ec2test.New(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.FindImages(ctx(t), "", "trusty", nil); err != nil || len(got) != 1 {
		t.Errorf("through Env: %+v, %v", got, err)
	}
}

// checkError checks an adapter error: an *Error with code and a hint
// containing hint, and no credential in its text.
func checkError(t *testing.T, err error, code, hint string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	t.Logf("error: %v", err)
	if e.Code != code || !strings.Contains(e.Hint, hint) || !strings.Contains(err.Error(), hint) {
		t.Errorf("err = %v; want code %q and a hint with %q", err, code, hint)
	}
	if s := err.Error(); strings.Contains(s, fakeSecret) || strings.Contains(s, fakeKeyID) {
		t.Errorf("error shows a credential: %s", s)
	}
}

func TestErrors(t *testing.T) {
	isolate(t)
	t.Run("unauthorized", func(t *testing.T) {
		srv := ec2test.New(t, ec2test.FailAction("DescribeImages", ec2test.UnauthorizedOperation))
		c := newClient(t, srv, Options{})
		_, err := c.FindImages(ctx(t), "us-west-2", "trusty", nil)
		checkError(t, err, "UnauthorizedOperation", "lack permission for ec2:DescribeImages in us-west-2")
		if !strings.Contains(err.Error(), "StatusCode: 403") || !strings.Contains(err.Error(), "0abc0023-5b1e-4c7d-9f2a-000000000023") {
			t.Errorf("error lacks the status or request id: %v", err)
		}
		if n := len(srv.Calls()); n != 1 {
			t.Errorf("%d calls: a 403 is not retried", n)
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv := ec2test.New(t, ec2test.FailAction("DescribeImages", ec2test.InvalidAMIIDNotFound))
		c := newClient(t, srv, Options{})
		_, _, err := c.ImageByName(ctx(t), "us-west-2", "x-image")
		checkError(t, err, "InvalidAMIID.NotFound", "no such AMI in us-west-2")
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c, err := New(context.Background(), Options{Endpoint: "http://user:pw-secret@" + addr, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ImagesByTag(ctx(t), "us-west-2", "k", "v")
		checkError(t, err, "", "could not reach the EC2 endpoint http://user:xxxxx@"+addr)
		if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("error shows the endpoint's password: %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		srv := ec2test.New(t)
		c := newClient(t, srv, Options{})
		_, err := c.FindImages(ctx(t), "us-west-2", "trusty", nil)
		checkError(t, err, "", "no usable AWS credentials")
		if n := len(srv.Calls()); n != 0 {
			t.Errorf("%d calls without credentials", n)
		}
	})
	t.Run("no region", func(t *testing.T) {
		t.Setenv("AWS_REGION", "")
		srv := ec2test.New(t)
		c := newClient(t, srv, Options{})
		_, _, err := c.ImageByName(ctx(t), "", "x-image")
		checkError(t, err, "", "name the region")
	})
	t.Run("canceled", func(t *testing.T) {
		srv := ec2test.New(t)
		c := newClient(t, srv, Options{})
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.FindImages(cctx, "us-west-2", "trusty", nil)
		checkError(t, err, "", "canceled")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled inside", err)
		}
	})
}

func TestStaticCredentialsAndOptionsString(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	srv := ec2test.New(t)
	opts := Options{Region: "ap-southeast-2", AccessKeyID: fakeKeyID, SecretAccessKey: fakeSecret}
	c := newClient(t, srv, opts)
	if _, _, err := c.ImageByName(ctx(t), "", "x-image"); err != nil {
		t.Fatal(err)
	}
	if calls := srv.Calls(); len(calls) != 1 || calls[0].Region != "ap-southeast-2" {
		t.Errorf("calls = %+v", calls)
	}
	for _, s := range []string{fmt.Sprint(opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts)} {
		if strings.Contains(s, fakeSecret) {
			t.Errorf("Options print the secret: %s", s)
		}
	}
}
