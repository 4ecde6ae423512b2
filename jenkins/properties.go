package jenkins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
)

// maxPropertyFile bounds a property file read from Jenkins.
const maxPropertyFile = 10 << 20

// ErrPropertyFileMissing is matched (errors.Is) by Properties' error when
// the build archived no file of that name. A build's property file can
// show up a little after the build is reported, so callers retry on it.
var ErrPropertyFileMissing = errors.New("property file not archived")

// missingError is Igor's ArtifactNotFoundException, word for word.
type missingError struct {
	master, job, file string
	number            int
}

func (e *missingError) Error() string {
	return fmt.Sprintf("Could not find build artifact matching requested filename '%s' on '%s/%s' build %d",
		e.file, e.master, e.job, e.number)
}

func (e *missingError) Is(target error) bool { return target == ErrPropertyFileMissing }

// Properties reads the property file a trigger names (propertyFile) from
// build number of job, as Igor does: the first artifact whose file name is
// exactly propertyFile, parsed by its extension: ".yml"/".yaml" as YAML,
// ".json" as JSON (both must hold a map), anything else as Java
// properties (every value a string). An empty propertyFile gives an empty
// map. A file that is not archived gives an error matching
// ErrPropertyFileMissing; one that does not parse, an error naming it
// (Igor logs that and returns an empty map, which hides the mistake).
func (c *Client) Properties(ctx context.Context, job string, number int, propertyFile string) (map[string]any, error) {
	if propertyFile == "" {
		return map[string]any{}, nil
	}
	b, err := c.Build(ctx, job, number)
	if err != nil {
		return nil, err
	}
	rel := ""
	for _, a := range b.Artifacts {
		if a.FileName == propertyFile {
			rel = a.RelativePath
			break
		}
	}
	if rel == "" {
		return nil, &missingError{master: c.master.Name, job: job, file: propertyFile, number: number}
	}
	body, _, err := c.Artifact(ctx, job, number, rel)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxPropertyFile+1))
	if err != nil {
		return nil, fmt.Errorf("jenkins master %q: read property file %q of build %d of job %q: %w",
			c.master.Name, propertyFile, number, job, err)
	}
	if len(data) > maxPropertyFile {
		return nil, fmt.Errorf("jenkins master %q: property file %q of build %d of job %q is over %d bytes",
			c.master.Name, propertyFile, number, job, maxPropertyFile)
	}
	props, err := parseProperties(propertyFile, data)
	if err != nil {
		return nil, fmt.Errorf("jenkins master %q: property file %q of build %d of job %q: %w",
			c.master.Name, propertyFile, number, job, err)
	}
	return props, nil
}

// parseProperties parses a property file by its name's extension.
func parseProperties(name string, data []byte) (map[string]any, error) {
	switch {
	case strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml"):
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("not valid YAML: %w", err)
		}
		if v == nil {
			return map[string]any{}, nil
		}
		m, ok := stringKeys(v).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("YAML holds a %T, not a map of properties", v)
		}
		return m, nil
	case strings.HasSuffix(name, ".json"):
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // keep 64-bit integers exact
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
		if m == nil {
			m = map[string]any{}
		}
		return m, nil
	}
	return javaProperties(data), nil
}

// stringKeys turns YAML maps with non-string keys into map[string]any
// (keys printed as YAML would), so that the result encodes as JSON.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
		return x
	}
	return v
}

// javaProperties parses data as java.util.Properties.load does: logical
// lines joined at an odd number of trailing backslashes, '#' and '!'
// comments, a key ended by the first unescaped '=', ':' or white space,
// and the escapes \t \n \r \f \uXXXX (any other escaped character stands
// for itself). Unlike Java, which reads the bytes as ISO 8859-1, valid
// UTF-8 is read as UTF-8.
func javaProperties(data []byte) map[string]any {
	text := string(data)
	if !utf8.Valid(data) {
		r := make([]rune, len(data))
		for i, c := range data {
			r[i] = rune(c)
		}
		text = string(r)
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	out := map[string]any{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if continued(line) { // a last line ending in a lone backslash
			line = line[:len(line)-1]
		}
		key, value := splitProperty(line)
		out[unescapeProperty(key)] = unescapeProperty(value)
	}
	return out
}

// continued reports whether a line ends with an odd number of backslashes.
func continued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line into its (still escaped) key and
// value.
func splitProperty(line string) (key, value string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	key, rest := line[:end], line[end:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

// unescapeProperty resolves the escapes of a key or value.
func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
