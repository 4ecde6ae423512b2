package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Config is a pipeline configuration as Front50 stores it and Deck writes
// it: application, name, id, triggers, stages, and whatever else the user's
// Spinnaker put there. Fields is the whole JSON object, decoded with
// json.Number so that unknown fields (notifications, parameterConfig,
// expectedArtifacts, updateTs as a string...) round-trip unchanged; the
// accessors read the fields Bakehouse acts on.
type Config struct {
	Fields map[string]any
}

// ParseConfig decodes one pipeline config. It keeps every field and checks
// only what Bakehouse needs to store and run it.
func ParseConfig(b []byte) (*Config, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("pipeline config is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("pipeline config is not a JSON object")
	}
	return &Config{Fields: m}, nil
}

// MarshalJSON writes the config exactly as it is held.
func (c *Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.Fields) }

// UnmarshalJSON reads a config, keeping every field.
func (c *Config) UnmarshalJSON(b []byte) error {
	p, err := ParseConfig(b)
	if err != nil {
		return err
	}
	*c = *p
	return nil
}

func (c *Config) str(k string) string {
	s, _ := c.Fields[k].(string)
	return s
}

// ID is the config's id ("" until it is saved).
func (c *Config) ID() string { return c.str("id") }

// Application is the application the pipeline belongs to.
func (c *Config) Application() string { return c.str("application") }

// Name is the pipeline's name, unique within its application.
func (c *Config) Name() string { return c.str("name") }

// Disabled reports whether the pipeline is disabled (no trigger starts it).
func (c *Config) Disabled() bool { b, _ := c.Fields["disabled"].(bool); return b }

// Stages returns the configured stages, each as its JSON object.
func (c *Config) Stages() []map[string]any { return objects(c.Fields["stages"]) }

// Triggers returns the configured triggers, each as its JSON object.
func (c *Config) Triggers() []map[string]any { return objects(c.Fields["triggers"]) }

func objects(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
