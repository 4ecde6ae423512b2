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

// planned is a request made ready to bake: resolved once, its recipe
// built and keyed.
type planned struct {
	resolved *bakehouse.Resolved
	recipe   bakehouse.Recipe
	plan     bakehouse.Plan
	// inputs are what the key was computed from besides the request
	// and the config, for the key cache.
	inputs keyInputs
}

// prepare turns a request into a keyed plan without side effects: the
// request is resolved once (provider, base OS, package versions, source
// image, template), and the recipe, the image name and the key are
// computed from that.
func (s *Service) prepare(ctx context.Context, region string, req bakehouse.BakeRequest) (*planned, error) {
	cfg := s.cfg.Rosco
	var (
		look bakehouse.Lookups
		in   keyInputs
	)
	if s.aws != nil {
		look.FindImages = func(name, region, account string) ([]bakehouse.NamedImage, error) {
			in.searchedAWS = true
			// The adapter searches as clouddriver's find does (a name
			// without wildcards matches as a substring), so
			// "ubuntu-xenial-16.04-amd64-server-" finds every dated build.
			return s.aws.FindImages(ctx, region, name, nil)
		}
	}
	if s.repo != nil {
		look.PackageVersion = func(name string) (string, string, bool) {
			v, arch, ok := s.repo.Resolve(name)
			in.packages = append(in.packages, packageLookup{name: name, version: v, arch: arch, ok: ok})
			return v, arch, ok
		}
	}
	r, err := bakehouse.Resolve(region, req, cfg, look)
	if err != nil {
		return nil, err
	}
	recipe, err := r.Recipe(s.Now())
	if err != nil {
		return nil, err
	}
	p := &planned{resolved: r, recipe: recipe}
	p.inputs = in

	x := r.KeyExtras()
	if x.TemplateDigest, err = s.digests.digest(r.TemplateFile); err != nil {
		return nil, templateError(r, err)
	}
	p.inputs.template, p.inputs.templateDigest = r.TemplateFile, x.TemplateDigest
	if r.VarFile != "" {
		if x.VarFileDigest, err = s.digests.digest(r.VarFile); err != nil {
			return nil, bakehouse.Invalid("var_file_name", "Var file %s cannot be read (%v): install it in the template directory or drop var_file_name.", r.VarFile, err)
		}
		p.inputs.varFile, p.inputs.varFileDigest = r.VarFile, x.VarFileDigest
	}
	if r.Provider == "docker" {
		id, err := s.dockerBaseImageID(ctx, r.SourceImage)
		if err != nil {
			return nil, err
		}
		x.BaseImage = r.SourceImage + "@" + id
		p.inputs.sourceImage, p.inputs.baseImageID = r.SourceImage, id
	}
	roscoKey := r.RoscoKey()
	p.plan = bakehouse.Plan{
		BakeKey:     bakehouse.BakeKey(roscoKey, x),
		RoscoKey:    roscoKey,
		ImageName:   recipe.ImageName,
		Packages:    r.PlanPackages,
		AppVersion:  recipe.AppVersion,
		Packer:      bakehouse.PlanPacker{Template: recipe.TemplateFile, Argv: bakehouse.MaskArgv(recipe.Argv(cfg.Packer), recipe.MaskedParameters)},
		BaseImage:   x.BaseImage,
		SourceImage: r.SourceImage,
		Warnings:    r.Warnings,
		KeyInputs:   &x,
	}
	return p, nil
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
func templateError(r *bakehouse.Resolved, err error) error {
	dir, name := filepath.Dir(r.TemplateFile), filepath.Base(r.TemplateFile)
	if errors.Is(err, fs.ErrNotExist) {
		err = fs.ErrNotExist
	}
	if r.TemplateSetting == "template_file_name" {
		return bakehouse.Invalid("template_file_name", "Template %s (template_file_name) cannot be read in %s (%v): install it there or pick another template_file_name.", name, dir, err)
	}
	return bakehouse.Invalid(r.TemplateSetting, "Template %s (named by %s in the bakery's config) cannot be read in %s (%v): install it there, or set %s to a template in that directory.", name, r.TemplateSetting, dir, err, r.TemplateSetting)
}
