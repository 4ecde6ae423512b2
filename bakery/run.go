package bakery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// phaseTracker records bake phases as Packer's output moves through them.
type phaseTracker struct {
	now    func() time.Time
	phases []bakehouse.Phase
	cur    string
	start  time.Time
}

func (p *phaseTracker) enter(name string) {
	now := p.now()
	if p.cur == name {
		return
	}
	p.close(now)
	p.cur, p.start = name, now
}

func (p *phaseTracker) close(now time.Time) {
	if p.cur != "" {
		p.phases = append(p.phases, bakehouse.Phase{Name: p.cur, StartedAt: p.start.UTC(), Seconds: now.Sub(p.start).Seconds()})
		p.cur = ""
	}
}

func (p *phaseTracker) done() []bakehouse.Phase {
	p.close(p.now())
	return p.phases
}

// phaseOf maps a Packer output line to the phase it starts, if any.
func phaseOf(line string) string {
	switch {
	case strings.Contains(line, "Provisioning with"):
		return "provision"
	case strings.Contains(line, "Committing the container"), strings.Contains(line, "Creating the AMI"),
		strings.Contains(line, "Creating AMI"), strings.Contains(line, "Stopping the source instance"):
		return "snapshot"
	case strings.Contains(line, "Running post-processor"), strings.Contains(line, "Copying AMI"):
		return "tag_copy"
	}
	return ""
}

// RunBake runs one bake; the queue calls it. It always leaves the bake in a
// final state, and returns nil for bakes that were ended before they ran.
func (s *Service) RunBake(ctx context.Context, id string) error {
	rec, err := s.store.Bake(ctx, id)
	if err != nil {
		return err
	}
	if rec.State != bakehouse.StateRunning {
		s.forgetSecrets(id)
		s.logs.Close(id)
		return nil // canceled while queued, or recovered after a restart
	}
	// The bake is this node's from now on: if this node dies, the others
	// end it, and when it comes back it removes what the bake left.
	ok, err := s.store.ClaimBake(ctx, id, s.cfg.Node)
	if err != nil {
		return fmt.Errorf("claim bake %s: %w", id, err)
	}
	if !ok {
		s.forgetSecrets(id)
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, s.cfg.BakeTimeout, fmt.Errorf("timed out after %s", s.cfg.BakeTimeout))
	defer cancelTimeout()
	s.mu.Lock()
	s.running[id] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
	}()

	pt := &phaseTracker{now: s.Now}
	pt.phases = append(pt.phases, bakehouse.Phase{Name: "queued", StartedAt: rec.CreatedAt, Seconds: s.Now().Sub(rec.CreatedAt).Seconds()})
	logf := func(format string, args ...any) { s.logs.Append(id, fmt.Sprintf(format, args...)) }

	details, runErr := s.execute(ctx, rec, pt, logf)
	phases := pt.done()
	for _, ph := range phases {
		s.metrics.Phase.WithLabelValues(ph.Name).Observe(ph.Seconds)
	}

	fin := bakehouse.FinishBakeParams{ID: id, Phases: phases}
	switch {
	case runErr == nil:
		fin.State, fin.Result, fin.Details = bakehouse.StateCompleted, bakehouse.ResultSuccess, details
		logf("Bake %s completed: %s", id, details.ImageName)
	case ctx.Err() != nil:
		cause := s.cancelCause(ctx, id)
		fin.State, fin.Result, fin.Error = bakehouse.StateCanceled, bakehouse.ResultFailure, cause.Error()
		logf("Bake %s canceled: %v", id, cause)
	default:
		fin.State, fin.Result, fin.Error = bakehouse.StateCanceled, bakehouse.ResultFailure, runErr.Error()
		logf("Bake %s failed: %v", id, runErr)
	}
	// Finish with a fresh context: the bake's own may be canceled.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if runErr != nil {
		// Remove what a failed or canceled build left before the bake is
		// reported over; a successful Packer run removed its container.
		s.cleanup(fctx, rec, logf)
	}
	ok, err = s.store.Finish(fctx, fin)
	if err != nil {
		s.log.Error("finish bake", "id", id, "err", err)
		return err
	}
	if ok {
		s.metrics.finished(fin.Result)
		s.metrics.Duration.Observe(s.Now().Sub(rec.CreatedAt).Seconds())
	}
	if runErr == nil {
		s.cleanup(fctx, rec, logf)
	}
	s.logs.Close(id)
	return nil
}

// cancelCause says why a bake's run was canceled. A cancel or rebake that
// reached another node ended the bake in the store and canceled its queue
// job, and the queue canceled this run's context (River notifies the node
// that runs the job): the stored error says why, in the queue's stead.
func (s *Service) cancelCause(ctx context.Context, id string) error {
	cause := context.Cause(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if b, err := s.store.Bake(rctx, id); err == nil && b.State != bakehouse.StateRunning && b.Error != "" {
		return errors.New(b.Error)
	}
	return cause
}

// execute runs the plan stored with the bake, exactly: the request is not
// resolved again, so the package versions, the image name and the argv are
// those the bake was keyed and planned with. It prepares the provider,
// runs Packer and reads the result.
func (s *Service) execute(ctx context.Context, rec *bakehouse.BakeRecord, pt *phaseTracker, logf func(string, ...any)) (*bakehouse.Bake, error) {
	plan := rec.Plan
	argv, err := s.unmaskedArgv(rec)
	if err != nil {
		return nil, err
	}
	env := []string{"BAKEHOUSE_BAKE_ID=" + rec.ID}
	if s.repo != nil {
		env = append(env, "BAKEHOUSE_REPO_DIR="+s.repo.Dir())
	}
	if rec.Provider == "docker" {
		if s.repo != nil {
			// The plan pinned versions that the node which took the
			// request resolved: catch up with its repository before apt
			// reads this one.
			if err := s.repo.Sync(ctx); err != nil {
				logf("package repository: %v", err)
			}
		}
		pt.enter("base_image")
		if s.docker == nil {
			return nil, errors.New("the docker provider has no Docker engine configured")
		}
		// No separate ping: every docker call below reports an engine that
		// does not answer as "Docker engine is not reachable at ...".
		ref := plan.SourceImage
		var id string
		if suite := debianSuite(ref); suite != "" {
			id, err = s.docker.EnsureBaseImage(ctx, ref, suite, func(line string) { logf("%s", line) })
		} else {
			id, err = s.docker.ImageID(ctx, ref)
			if err == nil && id == "" {
				err = fmt.Errorf("base image %s is not in the Docker engine at %s and no registry can be reached: load it with docker load or docker import", ref, s.docker.Host())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("base image: %w", err)
		}
		s.baseImgs.put(ref, id)
		if base := ref + "@" + id; plan.BaseImage != base && plan.KeyInputs != nil {
			// The base image was built (or replaced) by this bake: key it
			// by the image it really used, as the next request will.
			x := *plan.KeyInputs
			x.BaseImage = base
			if key := bakehouse.BakeKey(plan.RoscoKey, x); key != rec.Key {
				if err := s.store.Rekey(ctx, rec.ID, key); err != nil {
					return nil, fmt.Errorf("rekey: %w", err)
				}
			}
		}
		logf("Base image %s (%s)", ref, id)
		if h := s.docker.Host(); h != "" {
			env = append(env, "DOCKER_HOST="+h)
		}
	}

	if rec.Provider == "aws" {
		pt.enter("precheck")
		if err := s.checkAMIName(ctx, rec, plan.ImageName, logf); err != nil {
			return nil, err
		}
		logf("Base AMI %s", plan.SourceImage)
	}
	env = append(env, s.cfg.PassEnv...)

	work := filepath.Join(s.cfg.WorkDir, rec.ID)
	if err := os.MkdirAll(work, 0o750); err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	mask := append(bakehouse.SecretValues(argv, s.cfg.Rosco.MaskedParameters()), s.cfg.SecretEnv...)
	logf("Running: %s", strings.Join(plan.Packer.Argv, " "))
	pt.enter("packer_start")
	code, output, err := s.packer.Run(ctx, PackerRun{
		Argv: argv, Env: env, Dir: work, Mask: mask,
		OnStart: func(pid int) {
			if err := s.store.MarkStarted(context.WithoutCancel(ctx), rec.ID, pid); err != nil {
				s.log.Error("mark started", "id", rec.ID, "err", err)
			}
		},
		OnLine: func(line string) {
			if ph := phaseOf(line); ph != "" {
				pt.enter(ph)
			}
			s.logs.Line(rec.ID, line)
		},
	})
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err != nil && code == 0 {
		return nil, fmt.Errorf("packer: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("packer exited with code %d (its output is in the bake log)", code)
	}
	b := s.packer.Scrape(rec.Provider, rec.Region, rec.ID, output, work)
	if b.ImageName == "" && b.AMI == "" {
		return nil, errors.New("packer finished but its output names no image")
	}
	if rec.Provider == "docker" && b.ImageName == "" {
		b.ImageName = plan.ImageName
	}
	b.BaseAMI = plan.SourceImage
	return &b, nil
}

// unmaskedArgv is the stored plan's argv with its secret values put back:
// from memory, where Bake left them on the node that accepted the bake, or
// from the database, sealed with the operator's secrets key. It is the
// only place they meet the plan, just before Packer runs.
func (s *Service) unmaskedArgv(rec *bakehouse.BakeRecord) ([]string, error) {
	stored := rec.Plan.Packer.Argv
	s.mu.Lock()
	full, ok := s.secretArgv[rec.ID]
	delete(s.secretArgv, rec.ID)
	s.mu.Unlock()
	masked := s.cfg.Rosco.MaskedParameters()
	if !ok && rec.SealedArgv != nil {
		if s.cfg.SecretsKey == nil {
			return nil, fmt.Errorf("the plan's secret values were sealed with a secrets key (by node %s) and this node (%s) has none: set the same bakehouse.secretsKey (or BAKEHOUSE_SECRETS_KEY) on every node, then bake again", orUnknown(rec.QueuedOn), s.cfg.Node)
		}
		var err error
		if full, err = openArgv(s.cfg.SecretsKey, rec.SealedArgv); err != nil {
			return nil, fmt.Errorf("the plan's secret values do not open with this node's (%s) secrets key: every node needs the same bakehouse.secretsKey (or BAKEHOUSE_SECRETS_KEY); bake again", s.cfg.Node)
		}
		ok = true
	}
	if ok {
		if !slices.Equal(bakehouse.MaskArgv(full, masked), stored) {
			return nil, errors.New("the command line kept for this bake does not match its stored plan: bake again")
		}
		return full, nil
	}
	if slices.Contains(bakehouse.SecretValues(stored, masked), bakehouse.Mask) {
		// The plan was stored masked and this process does not hold the
		// secrets: running with "******" would fail obscurely.
		if rec.QueuedOn != "" && rec.QueuedOn != s.cfg.Node {
			return nil, fmt.Errorf("the plan has masked parameters whose values are kept only in the memory of node %s, which accepted the bake, and node %s runs it: set the same bakehouse.secretsKey (or BAKEHOUSE_SECRETS_KEY) on every node so that any node can run such bakes, then bake again", rec.QueuedOn, s.cfg.Node)
		}
		return nil, errors.New("the plan has masked parameters whose values are not kept across restarts without bakehouse.secretsKey (or BAKEHOUSE_SECRETS_KEY): bake again")
	}
	return stored, nil
}

func orUnknown(node string) string {
	if node == "" {
		return "unknown"
	}
	return node
}

// forgetSecrets drops the secrets kept for a bake that will not run.
func (s *Service) forgetSecrets(id string) {
	s.mu.Lock()
	delete(s.secretArgv, id)
	s.mu.Unlock()
}

// cleanup removes what a bake may have left behind.
func (s *Service) cleanup(ctx context.Context, rec *bakehouse.BakeRecord, logf func(string, ...any)) {
	if rec.Provider == "docker" && s.docker != nil {
		n, err := s.docker.RemoveContainers(ctx, "io.bakehouse.bake-id="+rec.ID)
		if err != nil {
			logf("Could not remove build containers: %v", err)
		} else if n > 0 {
			logf("Removed %d build container(s)", n)
		}
	}
	os.RemoveAll(filepath.Join(s.cfg.WorkDir, rec.ID))
}

// checkAMIName fails a bake whose AMI name is already taken in its region
// or a copy_to region before anything is launched: an explicit ami_suffix
// used twice collides in AWS (spinnaker/spinnaker#4498), and Packer would
// only say so after minutes. A bake whose key matched the earlier image
// was already answered by reuse, so a taken name here is a real collision.
func (s *Service) checkAMIName(ctx context.Context, rec *bakehouse.BakeRecord, name string, logf func(string, ...any)) error {
	if s.aws == nil || name == "" {
		return nil
	}
	regions := []string{rec.Region}
	for _, r := range strings.Split(rec.Request.ExtendedAttributes["copy_to"], ",") {
		if r = strings.TrimSpace(r); r != "" && r != rec.Region {
			regions = append(regions, r)
		}
	}
	for _, region := range regions {
		id, found, err := s.aws.ImageByName(ctx, region, name)
		if err != nil {
			return fmt.Errorf("check that AMI name %s is free in %s: %w", name, region, err)
		}
		if found {
			return fmt.Errorf("an AMI named %s already exists in %s (%s): use a new ami_suffix (or none, for a timestamp) or another ami_name", name, region, id)
		}
	}
	logf("AMI name %s is free in %s", name, strings.Join(regions, ", "))
	return nil
}
