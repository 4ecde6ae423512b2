package bakery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// planned is a request made ready to bake: validated, packages resolved,
// recipe built and keyed.
type planned struct {
	region   string
	request  bakehouse.BakeRequest // as sent
	resolved bakehouse.BakeRequest // package versions pinned from the repository
	recipe   bakehouse.Recipe
	plan     bakehouse.Plan
	provider string
	suite    string // docker: the Debian suite to build a missing base image from
}

// prepare turns a request into a keyed plan without side effects.
func (s *Service) prepare(ctx context.Context, region string, req bakehouse.BakeRequest) (*planned, error) {
	cfg := s.cfg.Rosco
	if err := bakehouse.ValidateRequest(region, &req, cfg); err != nil {
		return nil, err
	}
	provider := cfg.ProviderType(req)
	p := &planned{region: region, request: req, provider: provider}

	resolved, pkgs, warnings := s.resolvePackages(req, provider)
	p.resolved = resolved
	var finder bakehouse.ImageFinder
	if s.aws != nil {
		finder = func(name, region, account string) ([]bakehouse.NamedImage, error) {
			// The adapter searches as clouddriver's find does (a name
			// without wildcards matches as a substring), so
			// "ubuntu-xenial-16.04-amd64-server-" finds every dated build.
			return s.aws.FindImages(ctx, region, name, nil)
		}
	}
	recipe, err := bakehouse.BuildRecipeWith(region, resolved, cfg, s.Now(), finder)
	if err != nil {
		return nil, err
	}
	p.recipe = recipe

	x := bakehouse.NewKeyExtras(req, recipe)
	x.ResolvedPackages = nil
	for _, pk := range pkgs {
		x.ResolvedPackages = append(x.ResolvedPackages, pk.Name+"="+pk.Version+"-"+pk.Release+":"+pk.Arch)
	}
	if x.TemplateDigest, err = s.digests.digest(recipe.TemplateFile); err != nil {
		return nil, templateError(recipe, err)
	}
	if recipe.VarFile != "" {
		if x.VarFileDigest, err = s.digests.digest(recipe.VarFile); err != nil {
			return nil, bakehouse.Invalid("var_file_name", "Var file %s cannot be read (%v): install it in the template directory or drop var_file_name.", recipe.VarFile, err)
		}
	}
	if provider == "docker" {
		id, err := s.dockerBaseImageID(ctx, recipe.SourceImage)
		if err != nil {
			return nil, err
		}
		x.BaseImage = recipe.SourceImage + "@" + id
		p.suite = debianSuite(recipe.SourceImage)
	}
	roscoKey := bakehouse.RoscoBakeKey(region, req, cfg)
	key := bakehouse.BakeKey(roscoKey, x)

	argv := bakehouse.MaskArgv(recipe.Argv(cfg.Packer), recipe.MaskedParameters)
	p.plan = bakehouse.Plan{
		BakeKey:    key,
		RoscoKey:   roscoKey,
		ImageName:  recipe.ImageName,
		Packages:   pkgs,
		AppVersion: recipe.AppVersion,
		Packer:     bakehouse.PlanPacker{Template: recipe.TemplateFile, Argv: argv},
		BaseImage:  x.BaseImage,
		Warnings:   warnings,
	}
	return p, nil
}

// resolvePackages pins each package named without a version to the version
// the bakery's repository would install, so that a new release changes the
// key instead of silently reusing an old image. Packages the repository
// does not hold keep the request's form and add a warning.
func (s *Service) resolvePackages(req bakehouse.BakeRequest, provider string) (bakehouse.BakeRequest, []bakehouse.PlanPackage, []string) {
	pt := s.packageType(req, provider)
	var out []string
	var pkgs []bakehouse.PlanPackage
	var warnings []string
	for _, tok := range strings.Fields(req.Package) {
		pk := bakehouse.ParsePackage(pt, tok)
		pp := bakehouse.PlanPackage{Name: pk.Name, Version: pk.Version, Release: pk.Release, Arch: pk.Arch}
		// Only docker bakes install from the bakery's own repository (it
		// is mounted into the build container); elsewhere the configured
		// repositories decide, and Bakehouse cannot see them.
		if pk.Version == "" && pt == bakehouse.PackageDeb && s.repo != nil && provider == "docker" {
			if v, arch, ok := s.repo.Resolve(pk.Name); ok {
				version, release := splitDebVersion(v)
				pp = bakehouse.PlanPackage{Name: pk.Name, Version: version, Release: release, Arch: arch, Resolved: true}
				tok = pk.Name + "_" + v + "_" + arch
			}
		}
		if pk.Version == "" && !pp.Resolved && pk.Name != "" {
			warnings = append(warnings, fmt.Sprintf("package %s has no version and Bakehouse cannot resolve it here: a bake reused for it may hold an older release (name the version, or rebake=1 forces a new bake)", pk.Name))
		}
		out = append(out, tok)
		pkgs = append(pkgs, pp)
	}
	req.Package = strings.Join(out, " ")
	return req, pkgs, warnings
}

// packageType is the package type of the request's base OS.
func (s *Service) packageType(req bakehouse.BakeRequest, provider string) bakehouse.PackageType {
	var pt string
	switch provider {
	case "docker":
		for _, b := range s.cfg.Rosco.Docker.BakeryDefaults.BaseImages {
			if b.BaseImage.ID == req.BaseOS {
				pt = b.BaseImage.PackageType
			}
		}
	case "aws":
		for _, b := range s.cfg.Rosco.AWS.BakeryDefaults.BaseImages {
			if b.BaseImage.ID == req.BaseOS {
				pt = b.BaseImage.PackageType
			}
		}
	}
	t, err := bakehouse.ParsePackageType(pt)
	if err != nil {
		return bakehouse.PackageDeb
	}
	return t
}

// splitDebVersion splits a Debian version into Rosco's version and release
// (upstream version and Debian revision).
func splitDebVersion(v string) (version, release string) {
	if i := strings.LastIndex(v, "-"); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

// debianSuite returns the suite of a Bakehouse-built base image
// (bakehouse/debian:SUITE), or "" for other images.
func debianSuite(ref string) string {
	const prefix = "bakehouse/debian:"
	if strings.HasPrefix(ref, prefix) {
		return strings.TrimPrefix(ref, prefix)
	}
	return ""
}

// dockerBaseImageID returns the engine's id for ref ("missing" when it is
// not there yet). It is cached for BaseImageTTL so that reuse stays fast;
// after that the cached id is still used while one request refreshes it in
// the background, so a replaced base image is seen within seconds.
func (s *Service) dockerBaseImageID(ctx context.Context, ref string) (string, error) {
	if s.docker == nil {
		return "unknown", nil
	}
	id, _, refresh, ok := s.baseImgs.get(ref)
	if ok {
		if refresh {
			go func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if _, err := s.lookupBaseImage(ctx, ref); err != nil {
					s.baseImgs.done(ref)
				}
			}()
		}
		return id, nil
	}
	return s.lookupBaseImage(ctx, ref)
}

func (s *Service) lookupBaseImage(ctx context.Context, ref string) (string, error) {
	id, err := s.docker.ImageID(ctx, ref)
	if err != nil {
		// The engine is down or broken: key the request without an id
		// (not cached) and let the bake fail saying why.
		s.log.Warn("docker base image lookup failed", "image", ref, "err", err)
		return "unavailable", nil
	}
	if id == "" {
		id = "missing"
	}
	s.baseImgs.put(ref, id)
	return id, nil
}

// Plan answers POST /api/v1/{region}/bake/plan: what a bake would run and
// whether an existing bake would be reused.
func (s *Service) Plan(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (bakehouse.Plan, error) {
	p, err := s.prepare(ctx, region, req)
	if err != nil {
		return bakehouse.Plan{}, err
	}
	if !rebake {
		existing, err := s.FindReusable(ctx, p.plan.BakeKey)
		if err != nil {
			return bakehouse.Plan{}, err
		}
		if existing != nil {
			p.plan.Reuse = &bakehouse.PlanReuse{ID: existing.ID, State: existing.State, Reason: reuseReason(existing)}
		}
	}
	return p.plan, nil
}

func reuseReason(b *bakehouse.BakeRecord) string {
	if b.State == bakehouse.StateRunning {
		return fmt.Sprintf("No changes detected; joined running bake %s", b.ID)
	}
	return fmt.Sprintf("No changes detected; reused existing bake %s", b.ID)
}

// templateError says which setting named a template that cannot be read
// and which directory was searched: the field is template_file_name when
// the request named it, else the config key (the operator's to fix).
func templateError(r bakehouse.Recipe, err error) error {
	dir, name := filepath.Dir(r.TemplateFile), filepath.Base(r.TemplateFile)
	if errors.Is(err, fs.ErrNotExist) {
		err = fs.ErrNotExist
	}
	if r.TemplateSetting == "template_file_name" {
		return bakehouse.Invalid("template_file_name", "Template %s (template_file_name) cannot be read in %s (%v): install it there or pick another template_file_name.", name, dir, err)
	}
	return bakehouse.Invalid(r.TemplateSetting, "Template %s (named by %s in the bakery's config) cannot be read in %s (%v): install it there, or set %s to a template in that directory.", name, r.TemplateSetting, dir, err, r.TemplateSetting)
}
