// Package bakery is the bake service: it validates a request, computes its
// key, reuses or starts a bake, runs Packer through its adapters and
// records the outcome. It holds the rules every store shares, so the SQLite
// and PostgreSQL stores cannot drift apart.
package bakery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/google/uuid"
)

// PackerRunner runs one packer build. onStart gets the process id as soon
// as it runs; onLine gets each output line, already redacted.
type PackerRunner interface {
	Run(ctx context.Context, run PackerRun) (exitCode int, output string, err error)
	// Scrape reads the image a finished build made from its output and
	// what Packer left in its working directory (a manifest).
	Scrape(provider, region, bakeID, output, workDir string) bakehouse.Bake
}

// PackerRun is one packer invocation.
type PackerRun struct {
	Argv    []string
	Env     []string
	Dir     string
	Mask    []string // secret values to redact from output
	OnStart func(pid int)
	OnLine  func(line string)
}

// DockerEngine is what the docker provider needs from the engine.
type DockerEngine interface {
	ImageID(ctx context.Context, ref string) (string, error) // "" and nil when missing
	EnsureBaseImage(ctx context.Context, ref, suite string, logf func(string)) (string, error)
	RemoveContainers(ctx context.Context, label string) (int, error)
	Host() string
}

// PackageRepo is the bakery's own package repository.
type PackageRepo interface {
	// Resolve returns the version and architecture apt would install for
	// name, or ok=false when the repository does not hold it.
	Resolve(name string) (version, arch string, ok bool)
	Dir() string
	// Sync copies in what was uploaded to other nodes and is not here
	// yet (nothing to do on one node), so that a bake taken right after
	// an upload to another node finds its package.
	Sync(ctx context.Context) error
}

// AWSImages is what the aws provider needs from EC2: resolving base
// images given by name, and the pre-launch AMI-name collision check.
type AWSImages interface {
	FindImages(ctx context.Context, region, name string, owners []string) ([]bakehouse.NamedImage, error)
	ImageByName(ctx context.Context, region, name string) (id string, found bool, err error)
}

// Queue is what the bakery needs from the bake queue: canceling a queued
// job (running ones are canceled through their context), and telling a
// bake whose job still waits or runs from one whose job has ended.
type Queue interface {
	Cancel(ctx context.Context, jobID int64) error
	// JobAlive reports whether the job is still waiting to run or
	// running; false when it ended or does not exist.
	JobAlive(ctx context.Context, jobID int64) (bool, error)
}

// AbandonedJobs is a queue shared by several nodes (PostgreSQL's) that
// can give back the jobs a dead node fetched but never started: its
// worker took the job and the node died before it claimed the bake (or
// right after, before Packer started), so the job stays running, attempted
// by a node that will never finish it.
type AbandonedJobs interface {
	// RequeueAbandoned makes available again, for any node's worker, the
	// running jobs of RUNNING bakes that no node claimed, last attempted
	// by a node that is dead by the database's judgement (its heartbeat
	// is older than bakehouse.NodeTimeout, or it has none) at least
	// bakehouse.NodeTimeout ago. It returns, for each bake whose job it
	// gave back, the dead node that had taken it.
	RequeueAbandoned(ctx context.Context) (map[string]string, error)
}

// Config is the service's configuration.
type Config struct {
	Rosco        bakehouse.Config
	WorkDir      string        // per-bake scratch directories
	LogDir       string        // bake logs, one file per bake, unless Deps.Logs is set
	BakeTimeout  time.Duration // default 30m
	CancelGrace  time.Duration // SIGINT -> SIGKILL; default 10s
	BaseImageTTL time.Duration // how long a resolved base image id is trusted; default 5s
	Concurrency  int
	Instance     string // this instance's name in /status/all
	// Node is this process's node id (bakehouse.Node.ID): the bakes its
	// workers run are recorded under it, and at start it ends only its
	// own leftovers. Default: Instance.
	Node string
	// SecretsKey, when set (16, 24 or 32 bytes), seals the secret values
	// of a bake's command line into the database (AES-GCM), so that any
	// node holding the same key can run the bake. Without it they stay in
	// the memory of the node that accepted the bake.
	SecretsKey []byte
	// PassEnv are KEY=VALUE pairs from the server's environment that
	// Packer gets (AWS_* credentials, endpoints and profile), so that the
	// SDK's standard configuration reaches Packer unchanged.
	PassEnv []string
	// SecretEnv are the values among PassEnv that are secrets: masked in
	// every log line.
	SecretEnv []string
}

// Service is the bakery.
type Service struct {
	cfg     Config
	store   bakehouse.BakeStore
	packer  PackerRunner
	docker  DockerEngine
	repo    PackageRepo
	aws     AWSImages
	queue   Queue
	nodes   bakehouse.NodeStore
	logs    *LogStore
	metrics *Metrics
	log     *slog.Logger

	// Now and NewID are replaced by tests.
	Now   func() time.Time
	NewID func() string

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
	reuses  map[string]int // reuses not yet written to a bake's log
	// secretArgv are the Packer command lines in clear of bakes whose
	// stored plan is masked; held until the bake runs.
	secretArgv map[string][]string
	reuseNoted map[string]time.Time // when a reuse was last written

	digests  *fileDigests
	baseImgs *ttlCache
	keys     *keyCache
}

// Deps are the service's adapters.
type Deps struct {
	Store   bakehouse.BakeStore
	Packer  PackerRunner
	Docker  DockerEngine
	Repo    PackageRepo
	AWS     AWSImages // nil: names cannot be resolved, no collision check
	Metrics *Metrics
	Logger  *slog.Logger
	// Logs keeps the bake logs; nil: one file per bake in Config.LogDir.
	Logs LogBackend
	// Nodes keeps the nodes' heartbeats; nil: this process is the only
	// node (no heartbeats, no dead nodes).
	Nodes bakehouse.NodeStore
}

// New returns a service. Call SetQueue before the first bake.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.BakeTimeout <= 0 {
		cfg.BakeTimeout = 30 * time.Minute
	}
	if cfg.CancelGrace <= 0 {
		cfg.CancelGrace = 10 * time.Second
	}
	if cfg.BaseImageTTL <= 0 {
		cfg.BaseImageTTL = 5 * time.Second
	}
	if cfg.Instance == "" {
		cfg.Instance = "local"
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Instance
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	if d.Logs == nil {
		files, err := NewFileLogs(cfg.LogDir)
		if err != nil {
			return nil, err
		}
		d.Logs = files
	}
	logs := NewLogStore(d.Logs, d.Logger)
	return &Service{
		cfg: cfg, store: d.Store, packer: d.Packer, docker: d.Docker, repo: d.Repo, aws: d.AWS, nodes: d.Nodes,
		logs: logs, metrics: d.Metrics, log: d.Logger,
		Now: time.Now, NewID: newID,
		running: map[string]context.CancelCauseFunc{},
		reuses:  map[string]int{}, reuseNoted: map[string]time.Time{},
		secretArgv: map[string][]string{},
		digests:    newFileDigests(),
		baseImgs:   newTTLCache(cfg.BaseImageTTL),
		keys:       newKeyCache(),
	}, nil
}

// SetQueue attaches the queue (it is built after the service, because the
// queue's worker calls the service).
func (s *Service) SetQueue(q Queue) { s.queue = q }

// Logs returns the bake log store.
func (s *Service) Logs() *LogStore { return s.logs }

// Config returns the bakery configuration (for bake options).
func (s *Service) Config() bakehouse.Config { return s.cfg.Rosco }

// Instance returns this instance's name: its node id.
func (s *Service) Instance() string { return s.cfg.Node }

// newID returns a random UUID, the form Rosco's bake ids take.
func newID() string { return uuid.NewString() }
