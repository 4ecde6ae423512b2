package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse/aws"
	"github.com/bakehouse/bakehouse/docker"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/jenkins"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/runner"
)

// pipelines is the pipeline side of serve: the runner, and the Jenkins
// poller when masters are configured.
type pipelines struct {
	runner *runner.Runner
	poller *jenkins.Poller
	locks  runner.Locks
	// cancels brings the cancels other nodes received for the runs this
	// node drives (PostgreSQL only).
	cancels *postgres.ExecutionCancels
	// lead's stop, and done closed when it returned
	unlead   func()
	led      chan struct{}
	unlisten func()
}

// startPipelines wires the runner to the store, the bakery (this server's
// own Rosco API, as Orca would call it), Jenkins, the image finders (docker
// labels and EC2 tags for Find Image from Tags, the bakery's own bake
// records for Find Image from Cluster) and the package repository, and
// serves it on srv. It resumes the runs a previous process left running
// once srv serves.
func startPipelines(cfg fileConfig, st *storage, srv *bhttp.Server, token string, rp *repoAdapter, dk *docker.Client, ac *aws.Client, baked runner.BakedImages, log *slog.Logger) (*pipelines, error) {
	set := pipeline.DefaultSettings()
	set.AllowMissingPackageInstallation = cfg.Bakery.AllowMissingPackageInstallation
	if cfg.Bakery.ExtractBuildDetails != nil {
		set.ExtractBuildDetails = *cfg.Bakery.ExtractBuildDetails
	}
	tasks := &runner.Tasks{
		Bakery:   bhttp.NewOrcaBakery(srv.URL(), token),
		Settings: &set,
		Images:   imageFinder{docker: dk, aws: ac},
		Baked:    baked,
		Repo:     pipelineRepo{rp},
	}
	store := st.pipelines
	p := &pipelines{locks: st.locks}
	var masters *jenkins.Masters
	if cfg.Jenkins.Enabled && len(cfg.Jenkins.Masters) > 0 {
		ms := make([]jenkins.Master, len(cfg.Jenkins.Masters))
		for i, m := range cfg.Jenkins.Masters {
			ms[i] = jenkins.Master{Name: m.Name, Address: m.Address, Username: m.Username, Password: m.Password}
		}
		var err error
		if masters, err = jenkins.NewMasters(ms, nil); err != nil {
			return nil, fmt.Errorf("config: jenkins: %w", err)
		}
		tasks.CI = masters
	}
	rc := runner.Config{Store: store, Tasks: tasks, Log: log.With("component", "pipelines"), Locks: st.locks, Sweep: st.sweep, Saved: srv.ExecutionSaved}
	if st.cancels != nil {
		rc.Relay, p.cancels = st.cancels, st.cancels
	}
	p.runner = runner.New(rc)
	srv.SetPipelines(p.runner)
	if masters != nil {
		poller, err := jenkins.NewPoller(jenkins.PollerConfig{
			Clients: masters.Clients(),
			Watched: func(ctx context.Context) ([]jenkins.Watch, error) {
				ws, err := p.runner.Watched(ctx)
				out := make([]jenkins.Watch, len(ws))
				for i, w := range ws {
					out[i] = jenkins.Watch{Master: w.Master, Job: w.Job}
				}
				return out, err
			},
			Cursors: store,
			Fire: func(ctx context.Context, master, job string, b jenkins.Build) error {
				_, err := p.runner.JenkinsBuild(ctx, master, job, b.Number)
				return err
			},
			Interval: durationOr(cfg.Bakehouse.JenkinsPollInterval, 15*time.Second),
			Logger:   log.With("component", "jenkins"),
			Lock:     st.locks.Lock,
		})
		if err != nil {
			return nil, err
		}
		p.poller = poller
		srv.SetJenkinsTrigger(p)
		srv.SetJenkinsBrowser(jenkinsBrowser{masters})
	}
	return p, nil
}

// Notified polls master's job now when a pipeline watches it (the
// Notification webhook).
func (p *pipelines) Notified(ctx context.Context, master, job string) (bool, error) {
	ws, err := p.runner.Watched(ctx)
	if err != nil {
		return false, err
	}
	for _, w := range ws {
		if w.Master == master && w.Job == job {
			return true, p.poller.PollJob(ctx, master, job)
		}
	}
	return false, nil
}

// start resumes runs and starts polling on the leader; srv serves by now.
func (p *pipelines) start(ctx context.Context, log *slog.Logger) {
	if n, err := p.runner.Resume(ctx); err != nil {
		log.Error("resuming pipeline runs failed", "err", err)
	} else if n > 0 {
		log.Info("resumed pipeline runs left running by a previous process", "count", n)
	}
	if p.cancels != nil {
		lctx, cancel := context.WithCancel(ctx)
		p.unlisten = cancel
		go p.cancels.Listen(lctx, p.runner.Relayed)
	}
	if p.poller != nil {
		lctx, cancel := context.WithCancel(ctx)
		p.unlead, p.led = cancel, make(chan struct{})
		go p.lead(lctx, log)
	}
}

// lead polls Jenkins while this node holds the leader's lock, and tries
// to take it every leaderRetry while another node does: one node polls
// at a time, and another takes over within seconds when it dies (its
// database session ends and PostgreSQL releases the lock). The only node
// of the embedded database always leads.
func (p *pipelines) lead(ctx context.Context, log *slog.Logger) {
	defer close(p.led)
	for {
		lost, ok, err := p.locks.TryLock(ctx, runner.LeaderLock)
		if err != nil && ctx.Err() == nil {
			log.Error("taking the Jenkins poller's lock failed", "err", err)
		}
		if ok {
			log.Info("this node polls Jenkins (it holds the Jenkins poller's lock)")
			p.poller.Start(ctx)
			select {
			case <-lost:
				log.Warn("this node lost the Jenkins poller's lock (its database session ended); it stops polling")
				p.poller.Stop()
			case <-ctx.Done():
				p.poller.Stop()
				p.locks.Unlock(context.Background(), runner.LeaderLock)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaderRetry):
		}
	}
}

// stop stops polling and driving runs; runs stay RUNNING in the store,
// to be resumed by the next serve, or by another node.
func (p *pipelines) stop() {
	if p.unlisten != nil {
		p.unlisten()
	}
	if p.unlead != nil {
		p.unlead()
		<-p.led
	}
	if p.poller != nil {
		p.poller.Stop()
	}
	p.runner.Stop()
}

// pipelineRepo is the package repository as the Bake stage fills it.
type pipelineRepo struct{ a *repoAdapter }

func (a pipelineRepo) HasPackage(filename string) (bool, error) {
	ps, err := a.a.r.List()
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Filename == filename {
			return true, nil
		}
	}
	return false, nil
}

func (a pipelineRepo) AddPackage(filename string, r io.Reader) error {
	_, err := a.a.add(context.Background(), filename, r)
	return err
}

// imageFinder answers Find Image from Tags: docker images by their
// labels, AMIs by their tags through EC2.
type imageFinder struct {
	docker *docker.Client
	aws    *aws.Client
}

func (f imageFinder) FindImages(ctx context.Context, provider, pkg string, tags map[string]string, regions []string, account string) ([]pipeline.TaggedImage, error) {
	var found []pipeline.Image
	switch provider {
	case "docker":
		if f.docker == nil {
			return nil, fmt.Errorf("the docker provider is not enabled: no images to search")
		}
		labels := []string{"appversion"}
		for k, v := range tags {
			labels = append(labels, k+"="+v)
		}
		imgs, err := f.docker.FindImages(ctx, labels)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			// Clouddriver's q: the image's name contains the package.
			i := slices.IndexFunc(img.Tags, func(t string) bool { return strings.Contains(t, pkg) })
			if i < 0 {
				continue
			}
			// A local image is in every region the stage asks for.
			for _, r := range regions {
				found = append(found, pipeline.Image{Name: img.Tags[i], ID: img.ID, Region: r,
					CreationDate: img.Created.UTC().Format("2006-01-02T15:04:05.000Z"), Tags: img.Labels})
			}
		}
	case "aws":
		if f.aws == nil {
			return nil, fmt.Errorf("the aws provider is not enabled: no AMIs to search")
		}
		var owners []string
		if account != "" {
			owners = []string{account}
		}
		for _, r := range regions {
			imgs, err := f.aws.TaggedImages(ctx, r, pkg, tags, owners)
			if err != nil {
				return nil, err
			}
			for _, img := range imgs {
				found = append(found, pipeline.Image{Name: img.Name, ID: img.ID, Region: r, CreationDate: img.CreationDate, Tags: img.Tags})
			}
		}
	default:
		return nil, fmt.Errorf("cloud provider %q has no image search in Bakehouse (docker and aws do)", provider)
	}
	return pipeline.GroupImages(found), nil
}
