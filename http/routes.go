package http

import "net/http"

// access says whether a route changes the bakery. Its zero value is
// mutates, so a route added to the table without a word needs the API
// token: forgetting costs a 401, not an open door.
type access bool

const (
	// mutates: the route needs the API token (or a trusted network) when
	// one is configured.
	mutates access = false
	// reads: the route changes nothing and stays open.
	reads access = true
)

// route is one endpoint of the API.
type route struct {
	pattern string
	handler func(*Server) http.Handler
	access  access
}

// routeTable lists the whole API: Rosco's v1 surface first, then
// Bakehouse's additions. Rosco's cancel is a GET but cancels, so it
// mutates; the plan is a POST but only computes, so it reads.
var routeTable = []route{
	// Rosco v1.
	{"POST /api/v1/{region}/bake", (*Server).handleBake, mutates},
	{"DELETE /api/v1/{region}/bake", (*Server).handleDelete, mutates},
	{"GET /api/v1/{region}/status/{id}", (*Server).handleStatus, reads},
	{"GET /api/v1/{region}/bake/{id}", (*Server).handleDetails, reads},
	{"GET /api/v1/{region}/logs/{id}", (*Server).handleLogs, reads},
	{"GET /api/v1/{region}/logs/image/{imageId}", (*Server).handleLogsByImage, reads},
	{"GET /api/v1/{region}/cancel/{id}", (*Server).handleCancel, mutates},
	{"POST /api/v1/bakes/delete-requests", (*Server).handleDeleteRequests, mutates},
	{"GET /bakeOptions", (*Server).handleBakeOptions, reads},
	{"GET /bakeOptions/{provider}", (*Server).handleBakeOptionsProvider, reads},
	{"GET /bakeOptions/{provider}/baseImages/{id}", (*Server).handleBaseImage, reads},
	{"GET /status/instance", (*Server).handleInstanceStatus, reads},
	{"GET /status/all", (*Server).handleAllStatus, reads},
	{"GET /health", (*Server).handleHealth, reads},

	// Bakehouse.
	{"POST /api/v1/{region}/bake/plan", (*Server).handlePlan, reads},
	{"GET /api/v1/bakes", (*Server).handleListBakes, reads},
	{"GET /api/v1/bakes/{id}", (*Server).handleRecord, reads},
	{"PUT /api/v1/packages/{filename}", (*Server).handlePutPackage, mutates},
	{"GET /api/v1/packages", (*Server).handleListPackages, reads},
	{"GET /metrics", (*Server).handleMetrics, reads},
	// River UI, for operators (PostgreSQL only): its pages show the jobs'
	// arguments and its API cancels, retries and deletes jobs, so all of
	// it is behind the token.
	{"/riverui/", (*Server).handleRiverUI, mutates},
	{"/riverui", (*Server).handleRiverUI, mutates},

	// Gate's pipeline paths, as spin and scripts written for Gate call
	// them (gate.go). Starting a run and cancelling one change the
	// bakery's work, so they mutate like saving and deleting a config.
	{"GET /version", (*Server).handleVersion, reads},
	{"POST /pipelines", (*Server).handleSavePipeline, mutates},
	{"GET /applications", (*Server).handleApplications, reads},
	{"GET /applications/{app}", (*Server).handleApplication, reads},
	{"GET /applications/{app}/pipelineConfigs", (*Server).handlePipelineConfigs, reads},
	{"GET /applications/{app}/pipelineConfigs/{name}", (*Server).handlePipelineConfig, reads},
	{"GET /applications/{app}/pipelines", (*Server).handleApplicationExecutions, reads},
	{"DELETE /pipelines/{app}/{name}", (*Server).handleDeletePipeline, mutates},
	{"POST /pipelines/{app}/{name}", (*Server).handleStartPipeline, mutates},
	{"GET /pipelines/{id}", (*Server).handleExecution, reads},
	{"PUT /pipelines/{id}/cancel", (*Server).handleCancelExecution, mutates},
	{"GET /executions", (*Server).handleExecutions, reads},
	// Jenkins' Notification plugin cannot send a bearer token: let its
	// address in with bakehouse.trustedNetworks.
	{"POST /webhooks/jenkins/{master}", (*Server).handleJenkinsWebhook, mutates},

	// The web UI (ui*.go): pages read; its forms mutate, and besides the
	// API's guard they need the UI's CSRF token and origin (uiPost). The
	// field check computes only.
	{"GET /{$}", (*Server).handleUIHome, reads},
	{"GET /ui/static/", (*Server).handleUIStatic, reads},
	{"GET /ui/bakery", (*Server).handleUIBakery, reads},
	{"GET /ui/bakes/{id}", (*Server).handleUIBake, reads},
	{"GET /ui/bakes/{id}/log", (*Server).handleUIBakeLog, reads},
	{"POST /ui/bakes/{id}/cancel", (*Server).handleUIBakeCancel, mutates},
	{"POST /ui/bakes/{id}/rebake", (*Server).handleUIRebake, mutates},
	{"GET /ui/images", (*Server).handleUIImages, reads},
	{"GET /ui/pipelines", (*Server).handleUIPipelines, reads},
	{"GET /ui/pipelines/new", (*Server).handleUIPipelineForm, reads},
	{"GET /ui/pipelines/{app}/{name}", (*Server).handleUIPipelineForm, reads},
	{"POST /ui/pipelines", (*Server).handleUISavePipeline, mutates},
	{"POST /ui/pipelines/json", (*Server).handleUISavePipelineJSON, mutates},
	{"GET /ui/pipelines/check/{field}", (*Server).handleUICheckField, reads},
	{"GET /ui/pipelines/{app}/{name}/run", (*Server).handleUIRunForm, reads},
	{"POST /ui/pipelines/{app}/{name}/run", (*Server).handleUIRun, mutates},
	{"GET /ui/jenkins/jobs", (*Server).handleUIJenkinsJobs, reads},
	{"GET /ui/executions/{id}", (*Server).handleUIExecution, reads},
	{"GET /ui/executions/{id}/events", (*Server).handleUIExecutionEvents, reads},
	{"POST /ui/executions/{id}/cancel", (*Server).handleUICancelExecution, mutates},
	// Signing in and out change only the browser's own cookie (ui_auth.go).
	{"GET /ui/signin", (*Server).handleUISignInForm, reads},
	{"POST /ui/signin", (*Server).handleUISignIn, reads},
	{"POST /ui/signout", (*Server).handleUISignOut, reads},
	{"/", (*Server).handleNotFound, reads},
}

// routes registers routeTable on mux, each mutating route behind the
// token check.
func (s *Server) routes(mux *http.ServeMux) {
	for _, rt := range routeTable {
		h := rt.handler(s)
		if rt.access == mutates {
			h = s.guard(h)
		}
		mux.Handle(rt.pattern, h)
	}
}
