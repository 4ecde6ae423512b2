package http

import (
	"context"
	"io"
	"net/http"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/jenkins"
)

// JenkinsTrigger is the Jenkins trigger as the webhook reaches it:
// Notified polls master's job now (when a pipeline watches it), so the
// build fires through the poller's cursor, once, however many phases
// Jenkins reports. It reports whether a pipeline watches the job.
type JenkinsTrigger interface {
	Notified(ctx context.Context, master, job string) (bool, error)
}

// SetJenkinsTrigger serves POST /webhooks/jenkins/{master} with t.
func (s *Server) SetJenkinsTrigger(t JenkinsTrigger) { s.jenkins = t }

// handleJenkinsWebhook takes the Notification plugin's POST for master:
// a COMPLETED or FINALIZED phase of a successful build polls its job at
// once, so its pipelines start without waiting for the next poll. Other
// phases and results are acknowledged and ignored.
func (s *Server) handleJenkinsWebhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.jenkins == nil {
			writeError(w, r, bakehouse.Errorf(bakehouse.ENOTFOUND, "pipelines are not enabled on this server"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeError(w, r, bakehouse.Invalid("body", "the notification body could not be read: %v", err))
			return
		}
		n, err := jenkins.ParseNotification(body)
		if err != nil {
			writeError(w, r, bakehouse.Invalid("body", "not a Jenkins Notification plugin payload (JSON format): %v", err))
			return
		}
		polled := false
		if n.Fires() {
			if polled, err = s.jenkins.Notified(r.Context(), r.PathValue("master"), n.Job); err != nil {
				writeError(w, r, err)
				return
			}
		}
		encode(w, http.StatusAccepted, map[string]any{"job": n.Job, "build": n.Number, "polled": polled})
	})
}
