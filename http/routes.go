package http

import "net/http"

// routes lists the whole API: Rosco's v1 surface first, then Bakehouse's
// additions.
func (s *Server) routes(mux *http.ServeMux) {
	// Rosco v1.
	mux.Handle("POST /api/v1/{region}/bake", s.handleBake())
	mux.Handle("DELETE /api/v1/{region}/bake", s.handleDelete())
	mux.Handle("GET /api/v1/{region}/status/{id}", s.handleStatus())
	mux.Handle("GET /api/v1/{region}/bake/{id}", s.handleDetails())
	mux.Handle("GET /api/v1/{region}/logs/{id}", s.handleLogs())
	mux.Handle("GET /api/v1/{region}/logs/image/{imageId}", s.handleLogsByImage())
	mux.Handle("GET /api/v1/{region}/cancel/{id}", s.handleCancel())
	mux.Handle("POST /api/v1/bakes/delete-requests", s.handleDeleteRequests())
	mux.Handle("GET /bakeOptions", s.handleBakeOptions())
	mux.Handle("GET /bakeOptions/{provider}", s.handleBakeOptionsProvider())
	mux.Handle("GET /bakeOptions/{provider}/baseImages/{id}", s.handleBaseImage())
	mux.Handle("GET /status/instance", s.handleInstanceStatus())
	mux.Handle("GET /status/all", s.handleAllStatus())
	mux.Handle("GET /health", s.handleHealth())

	// Bakehouse.
	mux.Handle("POST /api/v1/{region}/bake/plan", s.handlePlan())
	mux.Handle("GET /api/v1/bakes/{id}", s.handleRecord())
	mux.Handle("PUT /api/v1/packages/{filename}", s.handlePutPackage())
	mux.Handle("GET /api/v1/packages", s.handleListPackages())
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.Handle("/", s.handleNotFound())
}
