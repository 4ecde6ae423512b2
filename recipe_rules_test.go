package bakehouse

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recipeConfig is a small AWS + Docker configuration for rule tests.
func recipeConfig() Config {
	var cfg Config
	cfg.Rosco.ConfigDir = "/etc/bakehouse/packer"
	cfg.AWS.BakeryDefaults = AWSBakeryDefaults{
		TemplateFile: "aws-ebs.json",
		BaseImages: []AWSBaseImage{{
			BaseImage: BaseImage{ID: "trusty", PackageType: "deb"},
			VirtualizationSettings: []AWSVirtualizationSettings{
				{Region: "us-east-1", VirtualizationType: "hvm", InstanceType: "t2.micro", SourceAMI: "ami-9d751ee7", SSHUserName: "ubuntu"},
				{Region: "us-west-2", VirtualizationType: "hvm", InstanceType: "t2.micro", SourceAMI: "trusty-base-", SSHUserName: "ubuntu"},
			},
		}},
	}
	cfg.Docker.BakeryDefaults = DockerBakeryDefaults{
		TargetRepository: "registry:5000",
		TemplateFile:     "docker.json",
		BaseImages:       []DockerBaseImage{{BaseImage: BaseImage{ID: "trusty", PackageType: "DEB"}, VirtualizationSettings: DockerVirtualizationSettings{SourceImage: "ubuntu:trusty"}}},
	}
	return cfg
}

// buildRecipe resolves req and builds its recipe as the bakery does, with
// both providers enabled.
func buildRecipe(region string, req BakeRequest, cfg Config, now time.Time, find ImageFinder) (Recipe, error) {
	cfg.AWS.Enabled, cfg.Docker.Enabled = true, true
	r, err := Resolve(region, req, cfg, Lookups{FindImages: find})
	if err != nil {
		return Recipe{}, err
	}
	return r.Recipe(now)
}

func varValue(r Recipe, key string) (string, bool) {
	for _, v := range r.Vars {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

func mustError(t *testing.T, err error, code, field string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("error %q: Code, Field = %q, %q; want %q, %q", e.Message, e.Code, e.Field, code, field)
	}
	return e
}

func TestRecipeErrors(t *testing.T) {
	cfg := recipeConfig()
	now := time.UnixMilli(1)
	req := BakeRequest{Package: "app", BaseOS: "trusty"}

	_, err := buildRecipe("eu-west-1", req, cfg, now, nil)
	e := mustError(t, err, EINVALID, "region")
	if want := "No virtualization settings found for region 'eu-west-1', operating system 'trusty', and vm type 'hvm'."; e.Message != want {
		t.Errorf("Message = %q, want %q", e.Message, want)
	}
	pv := req
	pv.VMType = "pv"
	_, err = buildRecipe("us-east-1", pv, cfg, now, nil)
	mustError(t, err, EINVALID, "vm_type")

	_, err = buildRecipe("us-east-1", BakeRequest{Package: "app", CloudProviderType: "gce"}, cfg, now, nil)
	if e := mustError(t, err, EINVALID, "cloud_provider_type"); e.Message != "Unknown provider type 'gce'." {
		t.Errorf("Message = %q", e.Message)
	}

	docker := BakeRequest{BaseOS: "trusty", CloudProviderType: "docker"}
	_, err = buildRecipe("global", docker, cfg, now, nil)
	mustError(t, err, EINVALID, "package") // Rosco: 500

	traversal := req
	traversal.TemplateFileName = "../x.json"
	_, err = buildRecipe("us-east-1", traversal, cfg, now, nil)
	mustError(t, err, EINVALID, "template_file_name")

	// A source AMI given by name needs an image finder.
	_, err = buildRecipe("us-west-2", req, cfg, now, nil)
	if ErrorCode(err) != EINTERNAL {
		t.Errorf("name without finder: err = %v, want EINTERNAL", err)
	}
	none := func(name, region, account string) ([]NamedImage, error) { return nil, nil }
	_, err = buildRecipe("us-west-2", req, cfg, now, none)
	if e := mustError(t, err, EINVALID, "base_ami"); !strings.HasPrefix(e.Message, "No base image found for os 'trusty', vm type 'hvm', region 'us-west-2'") {
		t.Errorf("Message = %q", e.Message)
	}
	failing := func(name, region, account string) ([]NamedImage, error) { return nil, errors.New("clouddriver down") }
	if _, err = buildRecipe("us-west-2", req, cfg, now, failing); err == nil || ErrorCode(err) != EINTERNAL {
		t.Errorf("finder failure: err = %v, want an internal error", err)
	}
}

func TestRecipeBaseAMIByNameFirstMatch(t *testing.T) {
	cfg := recipeConfig()
	req := BakeRequest{Package: "app", BaseOS: "trusty", BaseAMI: "my-golden-image", AccountName: "prod"}
	var gotAccount string
	find := func(name, region, account string) ([]NamedImage, error) {
		gotAccount = account
		return []NamedImage{
			{Attributes: ImageAttributes{CreationDate: "2021", VirtualizationType: "pv"}, AMIs: map[string][]string{"us-east-1": {"ami-pv"}}},
			{Attributes: ImageAttributes{CreationDate: "2019", VirtualizationType: "hvm"}, AMIs: map[string][]string{"us-east-1": {"ami-old", "ami-x"}}},
			{Attributes: ImageAttributes{CreationDate: "2020", VirtualizationType: "hvm"}, AMIs: map[string][]string{"us-east-1": {"ami-new"}}},
		}, nil
	}
	r, err := buildRecipe("us-east-1", req, cfg, time.UnixMilli(1), find)
	if err != nil {
		t.Fatal(err)
	}
	// mostRecent is false: the first image of the vm type wins.
	if v, _ := varValue(r, "aws_source_ami"); v != "ami-old" || gotAccount != "prod" {
		t.Errorf("aws_source_ami = %q (account %q), want ami-old (prod)", v, gotAccount)
	}
}

func TestRecipeTemplatesAndRoot(t *testing.T) {
	cfg := recipeConfig()
	cfg.TemplatesNeedingRoot = StringList{"aws-chroot.json"}
	req := BakeRequest{Package: "app", BaseOS: "trusty", TemplateFileName: "aws-chroot.json", VarFileName: "vars.json"}
	r, err := buildRecipe("us-east-1", req, cfg, time.UnixMilli(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.BaseCommand != "sudo" || r.TemplateFile != "/etc/bakehouse/packer/aws-chroot.json" || r.VarFile != "/etc/bakehouse/packer/vars.json" {
		t.Errorf("recipe = %q %q %q", r.BaseCommand, r.TemplateFile, r.VarFile)
	}
	argv := r.Argv(PackerConfig{Timestamp: true, AdditionalParameters: []string{"", "-on-error=abort"}})
	if argv[0] != "sudo" || argv[4] != "-timestamp-ui" || argv[5] != "-on-error=abort" ||
		argv[len(argv)-2] != "-var-file=/etc/bakehouse/packer/vars.json" || argv[len(argv)-1] != r.TemplateFile {
		t.Errorf("argv = %q", argv)
	}
	if slices.Contains(argv, "") {
		t.Errorf("argv has an empty token: %q", argv)
	}
}

func TestRecipeExtendedAttributesOverrideInPlace(t *testing.T) {
	cfg := recipeConfig()
	req := BakeRequest{Package: "app", BaseOS: "trusty", ExtendedAttributes: map[string]string{
		"aws_instance_type": " m5.large ", "appversion": "", "zz": "last"}}
	r, err := buildRecipe("us-east-1", req, cfg, time.UnixMilli(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Vars[1] != (Var{"aws_instance_type", "m5.large"}) {
		t.Errorf("Vars[1] = %v, want the override, trimmed, in place", r.Vars[1])
	}
	if r.Vars[len(r.Vars)-1] != (Var{"zz", "last"}) {
		t.Errorf("last var = %v, want zz=last", r.Vars[len(r.Vars)-1])
	}
	if _, ok := varValue(r, "appversion"); ok {
		t.Error("an empty extended attribute should drop the variable")
	}
}

func TestRecipeDocker(t *testing.T) {
	cfg := recipeConfig()
	req := BakeRequest{Package: "app_1.0-1_all", BaseOS: "trusty", CloudProviderType: "docker", Organization: "ECorp", BaseAMI: "myorg/base:1"}
	r, err := buildRecipe("global", req, cfg, time.UnixMilli(1470391070464), nil)
	if err != nil {
		t.Fatal(err)
	}
	if src, _ := varValue(r, "docker_source_image"); r.ImageName != "registry:5000/ECorp/app:1470391070464" || src != "myorg/base:1" {
		t.Errorf("recipe = %+v", r)
	}
	// A docker template can be handed AWS credentials too (through
	// packer.additionalParameters or extended attributes): they are masked
	// for every provider.
	if !slices.Contains(r.MaskedParameters, "aws_secret_key") {
		t.Errorf("docker MaskedParameters = %q, want the credential names", r.MaskedParameters)
	}
}

func TestMaskedArgvAlwaysMasksCredentials(t *testing.T) {
	cfg := recipeConfig()
	cfg.AWS.BakeryDefaults.AWSAccessKey = "AKIA"
	cfg.AWS.BakeryDefaults.AWSSecretKey = "s3cr3t-value"
	cfg.AWS.BakeryDefaults.MaskedPackerParameters = []string{"other"}
	r, err := buildRecipe("us-east-1", BakeRequest{Package: "app", BaseOS: "trusty"}, cfg, time.UnixMilli(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	masked := strings.Join(MaskArgv(r.Argv(cfg.Packer), r.MaskedParameters), " ")
	if strings.Contains(masked, "AKIA") || strings.Contains(masked, "s3cr3t-value") || !strings.Contains(masked, "aws_secret_key=******") {
		t.Errorf("masked argv leaks: %s", masked)
	}
	if !slices.Contains(r.Argv(cfg.Packer), "aws_secret_key=s3cr3t-value") {
		t.Error("unmasked argv lacks the secret Packer needs")
	}
}

// TestJavaHashMapOrderMatchesSimulation checks the sort-by-final-bucket
// shortcut against a step-by-step java.util.HashMap: tail insertion into
// buckets, and on resize each bucket split into lo/hi lists in order.
func TestJavaHashMapOrderMatchesSimulation(t *testing.T) {
	simulate := func(vars []Var) []Var {
		table := make([][]Var, 16)
		size := 0
		for _, v := range vars {
			h := javaStringHash(v.Key)
			h ^= h >> 16
			i := int(h & uint32(len(table)-1))
			table[i] = append(table[i], v)
			if size++; size > len(table)*3/4 {
				old := table
				table = make([][]Var, 2*len(old))
				for j, bucket := range old {
					for _, e := range bucket {
						eh := javaStringHash(e.Key)
						eh ^= eh >> 16
						if eh&uint32(len(old)) == 0 {
							table[j] = append(table[j], e)
						} else {
							table[j+len(old)] = append(table[j+len(old)], e)
						}
					}
				}
			}
		}
		var out []Var
		for _, b := range table {
			out = append(out, b...)
		}
		return out
	}
	for _, prefix := range []string{"copy_to", "share_with"} {
		for n := 1; n <= 60; n++ {
			var vars []Var
			for i := 1; i <= n; i++ {
				vars = append(vars, Var{Key: prefix + "_" + strconv.Itoa(i), Value: "v"})
			}
			if got, want := javaHashMapOrder(vars), simulate(vars); !slices.Equal(got, want) {
				t.Fatalf("%s n=%d:\n got %v\nwant %v", prefix, n, got, want)
			}
		}
	}
	// Java: "copy_to_2" iterates before "copy_to_1" (packer-commands.json).
	if got := unroll("copy_to", "a, b"); got[0].Key != "copy_to_2" {
		t.Errorf("unroll order = %v", got)
	}
}
