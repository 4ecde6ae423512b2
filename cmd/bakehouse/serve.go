package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/aws"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/docker"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/packer"
	"github.com/bakehouse/bakehouse/repo"
	"github.com/bakehouse/bakehouse/templates"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

func serveCmd(e *env) *cobra.Command {
	var addr, dataDir, configPath, database string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the bakery server (Rosco-compatible API)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), e, addr, dataDir, configPath, database)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", envOr(e, "BAKEHOUSE_ADDR", "127.0.0.1:8087"), "address to listen on")
	cmd.Flags().StringVar(&dataDir, "data-dir", envOr(e, "BAKEHOUSE_DATA_DIR", "./bakehouse-data"), "directory for the database, templates, package repository and logs")
	cmd.Flags().StringVar(&configPath, "config", e.getenv("BAKEHOUSE_CONFIG"), "YAML config file (rosco.yml sections plus a bakehouse: section)")
	cmd.Flags().StringVar(&database, "database", e.getenv("BAKEHOUSE_DATABASE_URL"), "PostgreSQL URL (postgres://user:password@host/dbname) for bakes, pipelines and the queue; default: bakehouse.database, else the embedded SQLite database in the data dir")
	return cmd
}

// exposureWarning is what serve warns when a bakery reachable from the
// network takes mutating requests without a token, or "".
func exposureWarning(a bhttp.Auth, loopback bool) string {
	switch {
	case loopback || a.Token != "":
		return ""
	case len(a.TrustedNetworks) > 0:
		return "serving on a non-loopback address without an API token: only clients in bakehouse.trustedNetworks can bake, cancel, delete and upload; set bakehouse.apiToken or BAKEHOUSE_API_TOKEN for the others"
	}
	return "serving on a non-loopback address without an API token: anyone who reaches it can bake, cancel, delete and upload; set bakehouse.apiToken or BAKEHOUSE_API_TOKEN"
}

// engineVersion asks the Docker engine its version, or gives
// "unreachable"; it warns when the answer changes from last.
func engineVersion(ctx context.Context, dk *docker.Client, log *slog.Logger, last string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := dk.Version(ctx)
	if err != nil {
		if ctx.Err() == nil && last != "unreachable" {
			log.Warn("docker bakes fail until the engine answers", "err", err)
		}
		return "unreachable"
	}
	return v
}

// watchEngineVersion keeps /health's Docker version current: an engine
// started, restarted or upgraded after serve shows within a minute.
func watchEngineVersion(ctx context.Context, dk *docker.Client, srv *bhttp.Server, v bhttp.Versions, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d := engineVersion(ctx, dk, log, v.Docker); d != v.Docker && ctx.Err() == nil {
			v.Docker = d
			srv.SetVersions(v)
		}
	}
}

func envOr(e *env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

// environ rebuilds an environment list from getenv for the adapters that
// pass variables on to child processes.
func environ(e *env, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if v := e.getenv(k); v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// awsEnv are the AWS SDK's standard variables (credentials, profile,
// region, endpoints) and Packer's waiter settings, passed on to Packer so
// that the configuration Bakehouse's own EC2 calls use reaches it unchanged.
var awsEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_MAX_ATTEMPTS", "AWS_POLL_DELAY_SECONDS",
	"AWS_TIMEOUT_SECONDS", "BAKEHOUSE_AWS_POLLING_DELAY", "BAKEHOUSE_AWS_POLLING_MAX_ATTEMPTS",
}

// awsSecretEnv are the variables among awsEnv whose values are masked in
// every log line.
var awsSecretEnv = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"}

// serveGCPercent is the garbage collector's target while serving, unless
// GOGC is set. A bakery's live heap is a few MiB while a request allocates
// about 20 KB, so at Go's default of 100 the collector runs several times a
// second under load and its assists land on requests' tail latency.
// Measured with make bench, 400 took a reused request's p99 at 1,000 req/s
// from about 2 ms to about 1.3 ms, and flat-out reuse from about 6,400 to
// 10,000 req/s, for no change in idle RSS.
const serveGCPercent = 400

func serve(ctx context.Context, e *env, addr, dataDir, configPath, database string) error {
	start := time.Now()
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(configPath, dataDir)
	if err != nil {
		return err
	}
	if len(cfg.ignored) > 0 {
		log.Warn("config: ignored: "+strings.Join(cfg.ignored, ", "), "why", "settings Bakehouse does not use", "config", configPath)
	}
	for _, d := range []string{dataDir, filepath.Join(dataDir, "templates"), filepath.Join(dataDir, "logs"), filepath.Join(dataDir, "work"), filepath.Join(dataDir, "cache")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	// The package repository is world-readable: apt inside the build
	// container reads it as its unprivileged _apt user.
	if err := os.MkdirAll(filepath.Join(dataDir, "repo"), 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	os.Chmod(filepath.Join(dataDir, "repo"), 0o755)
	if err := templates.Install(filepath.Join(dataDir, "templates")); err != nil {
		return fmt.Errorf("install templates: %w", err)
	}

	packerPath := cfg.Bakehouse.PackerPath
	if packerPath == "" {
		packerPath = "packer"
	}
	pk, err := packer.New(packerPath)
	if err != nil {
		return fmt.Errorf("%w (install it with: apt-get install packer)", err)
	}
	vctx, vcancel := context.WithTimeout(ctx, 30*time.Second)
	packerVersion, err := pk.Version(vctx)
	vcancel()
	if err != nil {
		var ve *packer.VersionError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w; or set bakehouse.packerPath to a newer packer", err)
		}
		return fmt.Errorf("check packer: %w", err)
	}
	dk, err := docker.New("docker", environ(e, "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"))
	if err != nil {
		log.Warn("docker CLI not found: docker bakes will fail until it is installed", "err", err)
	}
	rp, err := repo.Open(filepath.Join(dataDir, "repo"))
	if err != nil {
		return fmt.Errorf("package repository: %w", err)
	}
	ra := &repoAdapter{r: rp}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := bakery.NewMetrics(reg)

	timeout := durationOr(cfg.Bakehouse.BakeTimeout, 30*time.Minute)
	deps := bakery.Deps{
		Packer:  packerAdapter{p: pk, opts: packer.RunOptions{GracePeriod: durationOr(cfg.Bakehouse.CancelGrace, 10*time.Second)}},
		Repo:    ra,
		Metrics: metrics,
		Logger:  log,
	}
	if dk != nil {
		deps.Docker = dockerAdapter{c: dk, cacheDir: filepath.Join(dataDir, "cache")}
	}
	var ac *aws.Client
	if cfg.AWS.Enabled {
		d := cfg.AWS.BakeryDefaults
		// The SDK reads the standard AWS_* environment itself; the EC2
		// endpoint is also passed from getenv so the two cannot disagree.
		endpoint := e.getenv("AWS_ENDPOINT_URL_EC2")
		if endpoint == "" {
			endpoint = e.getenv("AWS_ENDPOINT_URL")
		}
		ac, err = aws.New(ctx, aws.Options{AccessKeyID: d.AWSAccessKey, SecretAccessKey: d.AWSSecretKey, Endpoint: endpoint})
		if err != nil {
			return fmt.Errorf("aws provider: %w", err)
		}
		deps.AWS = ac
	}
	instance := cfg.Bakehouse.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	var svc *bakery.Service
	if database == "" {
		database = cfg.Bakehouse.Database
	}
	// The node id is also the queue's River client id, so that a job a
	// dead node took names it (river_job.attempted_by).
	node, err := nodeID(e, cfg.Bakehouse, instance, dataDir, database != "")
	if err != nil {
		return err
	}
	st, err := openStorage(ctx, database, dataDir, func(ctx context.Context, id string) error { return svc.RunBake(ctx, id) },
		queueSettings{concurrency: cfg.Bakehouse.Concurrency, timeout: timeout, log: log.With("component", "queue"), node: node})
	if err != nil {
		return err
	}
	defer st.close()
	queue := st.queue
	deps.Store = st.bakes
	if st.logs != nil {
		deps.Logs = st.logs
	}
	deps.Nodes = st.nodes
	if st.pg != nil {
		stop := shareRepo(ctx, ra, st.pg, node, log.With("component", "packages"))
		defer stop()
	}
	key, err := secretsKey(e, cfg.Bakehouse)
	if err != nil {
		return err
	}
	if key == nil && st.shared {
		log.Warn("no bakehouse.secretsKey (or BAKEHOUSE_SECRETS_KEY): a bake with masked parameters fails if another node's worker takes it; set the same key on every node")
	}
	if e.wrapStore != nil {
		deps.Store = e.wrapStore(deps.Store)
	}
	passEnv := environ(e, awsEnv...)
	var secretEnv []string
	for _, k := range awsSecretEnv {
		// Values too short to be real credentials (test placeholders)
		// would mask every occurrence of a common letter.
		if v := e.getenv(k); len(v) >= 4 {
			secretEnv = append(secretEnv, v)
		}
	}
	svc, err = bakery.New(bakery.Config{
		Rosco: cfg.Config, WorkDir: filepath.Join(dataDir, "work"), LogDir: filepath.Join(dataDir, "logs"),
		BakeTimeout: timeout, Concurrency: cfg.Bakehouse.Concurrency, Instance: instance, Node: node, SecretsKey: key,
		PassEnv: passEnv, SecretEnv: secretEnv,
	}, deps)
	if err != nil {
		return err
	}
	svc.SetQueue(queue)
	if st.logs != nil {
		// Followers on this node of bakes run by other nodes are woken by
		// their NOTIFY.
		lctx, lcancel := context.WithCancel(ctx)
		defer lcancel()
		go st.logs.Listen(lctx, svc.Logs().Wake, log.With("component", "logs"))
	}
	reg.MustRegister(bakery.NewNodeCollector(svc))

	// The node is registered before it claims any bake, then recovers
	// what its previous process left before any new bake runs.
	self := bakehouse.Node{ID: node, Concurrency: cfg.Bakehouse.Concurrency, StartedAt: start}
	if err := svc.Heartbeat(ctx, self); err != nil {
		return err
	}
	n, err := svc.Recover(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Warn("ended bakes left running by a previous process", "count", n)
	}
	if err := queue.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	// After the start, a bake left RUNNING by a worker that is gone (its
	// finishing write failed, or it panicked) is ended within seconds.
	rescuer := bakery.NewRescuer(svc, bakery.RescueInterval)
	if err := rescuer.Start(ctx); err != nil {
		queue.Stop(context.Background())
		return err
	}
	defer rescuer.Stop()

	srv := bhttp.NewServer(svc, ra, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log)
	srv.Concurrency = cfg.Bakehouse.Concurrency
	versions := bhttp.Versions{Packer: packerVersion}
	if dk != nil {
		versions.Docker = engineVersion(ctx, dk, log, "")
	}
	srv.SetVersions(versions)
	auth := bhttp.Auth{Token: cfg.Bakehouse.APIToken, TrustedNetworks: cfg.Bakehouse.trusted}
	if t := e.getenv("BAKEHOUSE_API_TOKEN"); t != "" {
		auth.Token = t
	}
	srv.SetAuth(auth)
	if st.riverQueue != nil {
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		h, err := startRiverUI(rctx, st.riverQueue, log.With("component", "riverui"))
		if err != nil {
			rescuer.Stop()
			queue.Stop(context.Background())
			return err
		}
		srv.SetRiverUI(h)
	}
	srv.ExecutionPoll = durationOr(cfg.Bakehouse.UIExecutionPoll, 5*time.Second)
	if err := srv.Listen(addr); err != nil {
		rescuer.Stop()
		queue.Stop(context.Background())
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	// Heartbeats go on until the queue has stopped (below), so that the
	// other nodes do not take a stopping node for dead; then the node is
	// removed, and its queued bakes are theirs.
	self.URL = srv.URL()
	membership := bakery.NewMembership(svc, self)
	if err := membership.Start(context.WithoutCancel(ctx)); err != nil {
		rescuer.Stop()
		queue.Stop(context.Background())
		return err
	}
	defer membership.Stop()
	pl, err := startPipelines(cfg, st, srv, auth.Token, ra, dk, ac, svc, log)
	if err != nil {
		rescuer.Stop()
		queue.Stop(context.Background())
		return err
	}
	if w := exposureWarning(auth, srv.LoopbackOnly()); w != "" {
		log.Warn(w, "addr", addr)
	}
	// The bound URL is the first line of stdout, so that callers binding
	// port 0 learn the port.
	fmt.Fprintln(e.stdout, srv.URL())
	log.Info("bakehouse serving", "url", srv.URL(), "data_dir", dataDir, "database", st.where, "concurrency", cfg.Bakehouse.Concurrency,
		"packer", packerVersion, "docker", versions.Docker, "startup", time.Since(start).Round(time.Millisecond))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	pl.start(ctx, log)
	vctx, vcancel = context.WithCancel(ctx)
	defer vcancel()
	if dk != nil {
		go watchEngineVersion(vctx, dk, srv, versions, log)
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Runs stop being driven first (they stay RUNNING, to be resumed),
	// so that no stage starts a bake while the bakery shuts down.
	pl.stop()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	rescuer.Stop()
	// Stopping the queue cancels running bakes: Packer gets SIGINT and
	// the bakes end CANCELED, so nothing is left RUNNING.
	queue.Stop(sctx)
	return err
}
