package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// configKeys is what checkKeys found in a config file: keys Bakehouse
// does not read.
type configKeys struct {
	// ignored are paths in Rosco's sections that Bakehouse does not use
	// (operators paste their whole rosco.yml), listed once at start.
	ignored []string
	// unknown are errors for keys in the bakehouse: section, which is
	// Bakehouse's own, so a key it does not know is a typo.
	unknown []error
}

// checkKeys walks the YAML document's keys against fileConfig's yaml tags,
// through the YAML library's node tree, so that a typo in the bakehouse:
// section stops the server instead of leaving a setting at its default
// without a word.
func checkKeys(data []byte) (configKeys, error) {
	var k configKeys
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return k, err
	}
	for _, doc := range f.Docs {
		k.walk(doc.Body, reflect.TypeFor[fileConfig](), "", false)
	}
	return k, nil
}

// walk checks node against type t at path. strict is set inside the
// bakehouse: section.
func (k *configKeys) walk(node ast.Node, t reflect.Type, path string, strict bool) {
	node = unwrap(node)
	if node == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := yamlFields(t)
		for _, mv := range mappingValues(node) {
			key := keyOf(mv)
			if key == "<<" { // a merge key: its values are checked where they are defined
				continue
			}
			p := join(path, key)
			if ft, ok := fields[key]; ok {
				k.walk(mv.Value, ft, p, strict || p == "bakehouse")
				continue
			}
			if strict {
				k.unknown = append(k.unknown, unknownKey(p, key, fields))
				continue
			}
			if near := closest(key, fields); near != "" {
				k.ignored = append(k.ignored, p+" (did you mean "+near+"?)")
				continue
			}
			k.ignored = append(k.ignored, leaves(mv.Value, p)...)
		}
	case reflect.Slice, reflect.Array:
		if seq, ok := node.(*ast.SequenceNode); ok {
			for i, v := range seq.Values {
				k.walk(v, t.Elem(), path+"["+strconv.Itoa(i)+"]", strict)
			}
		}
	case reflect.Map:
		for _, mv := range mappingValues(node) {
			k.walk(mv.Value, t.Elem(), join(path, keyOf(mv)), strict)
		}
	}
}

// unknownKey is the error for a key of the bakehouse: section that does
// not exist, naming the closest one.
func unknownKey(path, key string, fields map[string]reflect.Type) error {
	if near := closest(key, fields); near != "" {
		return fmt.Errorf("%s: unknown key; did you mean %s?", path, near)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("%s: unknown key; the keys are %s", path, strings.Join(names, ", "))
}

// yamlFields maps the yaml keys of struct t to their types, following
// inline fields as the decoder does.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// unwrap returns the node a tag, anchor or document stands for; aliases
// and nulls give nil (an alias is checked where its anchor is).
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.DocumentNode:
			n = v.Body
		case *ast.AliasNode, *ast.NullNode, nil:
			return nil
		default:
			return n
		}
	}
}

// mappingValues lists a mapping's entries ([] for any other node).
func mappingValues(n ast.Node) []*ast.MappingValueNode {
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		return v.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}
	}
	return nil
}

func keyOf(mv *ast.MappingValueNode) string {
	if s, ok := mv.Key.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return mv.Key.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// leaves lists the paths of the scalar and list values under n, for the
// warning about ignored settings ("redis.connection").
func leaves(n ast.Node, path string) []string {
	mvs := mappingValues(n)
	if len(mvs) == 0 {
		return []string{path}
	}
	var out []string
	for _, mv := range mvs {
		out = append(out, leaves(mv.Value, join(path, keyOf(mv)))...)
	}
	return out
}

// closest returns the key among fields nearest to key, when near enough
// to be a typo of it, else "".
func closest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", -1
	for name := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if bestD < 0 || d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if bestD < 0 || bestD > max(1, len(best)/4) || bestD >= len(key) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
