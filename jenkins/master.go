package jenkins

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/bakehouse/bakehouse"
)

// Master is one Jenkins master, in the shape of Igor's jenkins.masters[]
// entries: `jenkins: {enabled: true, masters: [{name, address, username,
// password}]}`. Password is the user's API token: a secret, so every way
// Bakehouse prints or serializes a Master (String, GoString, slog's
// LogValue, JSON and YAML) shows it as bakehouse.Mask.
type Master struct {
	// Name is how triggers refer to the master (trigger.master).
	Name string `json:"name" yaml:"name"`
	// Address is the master's root URL, e.g. https://jenkins.example.com/
	// or http://host:8080/jenkins/.
	Address string `json:"address" yaml:"address"`
	// Username and Password are sent with basic auth on every request;
	// Password is an API token of that user. Both may be empty for a
	// master that lets anonymous users read.
	Username string `json:"username" yaml:"username"`
	Password string `json:"password" yaml:"password"`
}

// masked returns m with its password replaced by the mask, for printing.
func (m Master) masked() master {
	if m.Password != "" {
		m.Password = bakehouse.Mask
	}
	return master(m)
}

// master has Master's fields but none of its methods, so that the
// printing methods can reuse the default encodings without recursing.
type master Master

// String describes m without its password.
func (m Master) String() string {
	x := m.masked()
	return fmt.Sprintf("{Name:%s Address:%s Username:%s Password:%s}", x.Name, x.Address, x.Username, x.Password)
}

// GoString keeps %#v from printing the password too.
func (m Master) GoString() string { return "jenkins.Master" + m.String() }

// LogValue makes slog print m with its password masked.
func (m Master) LogValue() slog.Value {
	x := m.masked()
	return slog.GroupValue(slog.String("name", x.Name), slog.String("address", x.Address),
		slog.String("username", x.Username), slog.String("password", x.Password))
}

// MarshalJSON writes m with its password masked. Decoding is the default
// one, so a config file is read as written.
func (m Master) MarshalJSON() ([]byte, error) { return json.Marshal(m.masked()) }

// MarshalYAML writes m with its password masked (goccy/go-yaml's
// InterfaceMarshaler), so a dumped config holds no token either.
func (m Master) MarshalYAML() (any, error) { return m.masked(), nil }

// Validate checks m as New needs it: a name and an http(s) address
// without credentials in it. Errors name the config field.
func (m Master) Validate() error {
	_, err := m.baseURL()
	return err
}
