package jenkins_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// newServer serves h on loopback for the test and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
