package jenkins_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/bakehouse/bakehouse/jenkins"
)

// TestMasterHidesPassword prints and serializes a Master every way
// Bakehouse might and finds the token in none.
func TestMasterHidesPassword(t *testing.T) {
	const secret = "11e0f3d5-api-token-never-shown"
	m := jenkins.Master{Name: "my-jenkins", Address: "https://ci.example.com/", Username: "igor", Password: secret}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("master", "master", m)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("master", "master", m)
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	jl, _ := json.Marshal([]jenkins.Master{m})
	y, err := yaml.Marshal(map[string]any{"masters": []jenkins.Master{m}})
	if err != nil {
		t.Fatal(err)
	}
	// A config that holds masters, printed or logged whole.
	cfg := struct {
		Enabled bool
		Masters []jenkins.Master
	}{true, []jenkins.Master{m}}
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "jenkins", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "jenkins", cfg)
	for name, out := range map[string]string{
		"nested %+v": fmt.Sprintf("%+v", cfg), "nested %#v": fmt.Sprintf("%#v", cfg),
		"%v": fmt.Sprintf("%v", m), "%+v": fmt.Sprintf("%+v", m), "%#v": fmt.Sprintf("%#v", m),
		"%s": fmt.Sprintf("%s", m), "%v of pointer": fmt.Sprintf("%v", &m),
		"slog": logged.String(), "json": string(j), "json list": string(jl), "yaml": string(y),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the password: %s", name, out)
		}
		if !strings.Contains(out, "******") || !strings.Contains(out, "my-jenkins") || !strings.Contains(out, "igor") {
			t.Errorf("%s does not show the master with its password masked: %s", name, out)
		}
	}
	// Reading a config keeps the token.
	var back jenkins.Master
	if err := json.Unmarshal([]byte(`{"name":"n","address":"http://h/","username":"u","password":"tok"}`), &back); err != nil || back.Password != "tok" {
		t.Errorf("decoded %v, %v", back, err)
	}
	if err := yaml.Unmarshal([]byte("name: n\naddress: http://h/\nusername: u\npassword: tok\n"), &back); err != nil || back.Password != "tok" {
		t.Errorf("decoded yaml %v, %v", back, err)
	}
	// No password: nothing to mask.
	if s := (jenkins.Master{Name: "anon"}).String(); strings.Contains(s, "******") {
		t.Errorf("anonymous master printed as %s", s)
	}
}
