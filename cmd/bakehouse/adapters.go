package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/docker"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/packer"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/repo"
	"github.com/bakehouse/bakehouse/templates"
)

// packerAdapter gives the bakery the packer package.
type packerAdapter struct {
	p    *packer.Packer
	opts packer.RunOptions
}

func (a packerAdapter) Run(ctx context.Context, r bakery.PackerRun) (int, string, error) {
	opts := a.opts
	opts.Dir, opts.Env, opts.Mask, opts.Stdout = r.Dir, r.Env, r.Mask, r.OnLine
	opts.OnStart = r.OnStart
	res, err := a.p.Run(ctx, r.Argv, opts)
	var exit *packer.ExitError
	if errors.As(err, &exit) {
		return res.ExitCode, res.Output, nil
	}
	return res.ExitCode, res.Output, err
}

func (a packerAdapter) Scrape(provider, region, bakeID, output, workDir string) bakehouse.Bake {
	if provider == "docker" {
		return packer.ScrapeDocker(bakeID, output)
	}
	b := packer.ScrapeAWS(region, bakeID, output)
	// Bakehouse's templates write a manifest: Packer's own record of the
	// AMIs, preferred to the scraped text when present.
	if data, err := os.ReadFile(filepath.Join(workDir, templates.ManifestFile)); err == nil {
		if amis := packer.ManifestAMIs(data); len(amis) > 0 {
			b.Artifacts = amis
			for _, a := range amis {
				if a.Location == region {
					b.AMI = a.Reference
				}
			}
		}
	}
	// A manifest post-processor makes Packer list each AMI twice under
	// "Builds finished"; report each once, named, as Rosco's details do.
	var arts []bakehouse.Artifact
	seen := map[string]bool{}
	for _, a := range b.Artifacts {
		if k := a.Location + " " + a.Reference; !seen[k] {
			seen[k] = true
			a.Name, a.UUID = b.ImageName, bakeID
			arts = append(arts, a)
		}
	}
	b.Artifacts = arts
	return b
}

// dockerAdapter gives the bakery the docker package.
type dockerAdapter struct {
	c        *docker.Client
	cacheDir string
}

func (a dockerAdapter) Host() string { return a.c.Host() }

func (a dockerAdapter) ImageID(ctx context.Context, ref string) (string, error) {
	id, err := a.c.ImageID(ctx, ref)
	if errors.Is(err, docker.ErrNotFound) {
		return "", nil
	}
	return id, err
}

func (a dockerAdapter) EnsureBaseImage(ctx context.Context, ref, suite string, logf func(string)) (string, error) {
	return a.c.EnsureBaseImage(ctx, ref, suite, a.cacheDir, logf)
}

func (a dockerAdapter) RemoveContainers(ctx context.Context, label string) (int, error) {
	return a.c.RemoveContainers(ctx, label)
}

// repoAdapter gives the bakery, the server and the pipelines the repo
// package. On PostgreSQL, mirror shares the repository among the nodes:
// uploads go through the database, and this node's directory is kept in
// step with it. nil: one node, uploads go to the directory.
type repoAdapter struct {
	r      *repo.Repo
	mirror *repo.Mirror
}

func (a *repoAdapter) Dir() string { return a.r.Dir() }

func (a *repoAdapter) Resolve(name string) (string, string, bool) {
	return a.r.ResolveArch(name)
}

func (a *repoAdapter) Sync(ctx context.Context) error {
	if a.mirror == nil {
		return nil
	}
	return a.mirror.Sync(ctx)
}

func (a *repoAdapter) add(ctx context.Context, filename string, r io.Reader) (repo.Package, error) {
	if a.mirror != nil {
		return a.mirror.Add(ctx, filename, r)
	}
	return a.r.Add(filename, r)
}

func (a *repoAdapter) AddPackage(ctx context.Context, filename string, r io.Reader) (bhttp.PackageInfo, error) {
	p, err := a.add(ctx, filename, r)
	if err != nil {
		return bhttp.PackageInfo{}, err
	}
	return infoOf(p), nil
}

func (a *repoAdapter) Packages() ([]bhttp.PackageInfo, error) {
	ps, err := a.r.List()
	if err != nil {
		return nil, err
	}
	out := make([]bhttp.PackageInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, infoOf(p))
	}
	return out, nil
}

func infoOf(p repo.Package) bhttp.PackageInfo {
	return bhttp.PackageInfo{Name: p.Name, Version: p.Version, Arch: p.Architecture, Filename: p.Filename, Size: p.Size, SHA256: p.SHA256}
}

// packagePoll is how often a node on PostgreSQL looks for uploads it was
// not told of (NOTIFY tells it at once).
const packagePoll = 30 * time.Second

// shareRepo makes a's repository node's copy of the cluster's, in db: it
// copies in what other nodes uploaded (now, then on each NOTIFY and every
// packagePoll) and sends uploads through the database. stop ends that and
// waits for it.
func shareRepo(ctx context.Context, a *repoAdapter, db *postgres.DB, node string, log *slog.Logger) (stop func()) {
	store := postgres.NewPackageStore(db, node)
	m := repo.NewMirror(a.r, store, log)
	if err := m.Sync(ctx); err != nil {
		log.Warn("package repository: first sync failed, retrying", "err", err)
	}
	a.mirror = m
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); store.Listen(ctx, m.Kick, log) }()
	go func() { defer wg.Done(); m.Run(ctx, packagePoll) }()
	return func() { cancel(); wg.Wait() }
}
