package bakehouse

import (
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
)

// Argv is the packer command line for r, as an argument list that is
// executed directly, never through a shell (so a value with spaces is one
// argument and needs no quoting):
//
//	[sudo] packer build -color=false [-timestamp-ui] [additionalParameters...] (-var k=v)... [-var-file=f] template
//
// additionalParameters are one token each, exactly as configured. Empty
// tokens are removed, as Rosco's command factory does.
func (r Recipe) Argv(pc PackerConfig) []string {
	argv := []string{r.BaseCommand, "packer", "build", "-color=false"}
	if pc.Timestamp {
		argv = append(argv, "-timestamp-ui")
	}
	argv = append(argv, pc.AdditionalParameters...)
	for _, v := range r.Vars {
		if v.Key != "" && v.Value != "" {
			argv = append(argv, "-var", v.Key+"="+javaTrim(v.Value))
		}
	}
	if r.VarFile != "" {
		argv = append(argv, "-var-file="+r.VarFile)
	}
	argv = append(argv, r.TemplateFile)
	return slices.DeleteFunc(argv, func(s string) bool { return s == "" })
}

// orderedVars is Rosco's parameter map: a LinkedHashMap, so a key keeps
// the position of its first insertion when a later put replaces its value.
type orderedVars struct {
	vars []Var
}

// put sets k to v, inserting it at the end if new.
func (o *orderedVars) put(k, v string) {
	for i := range o.vars {
		if o.vars[i].Key == k {
			o.vars[i].Value = v
			return
		}
	}
	o.vars = append(o.vars, Var{Key: k, Value: v})
}

// putIf puts k only when v is non-empty (Groovy's "if (value)").
func (o *orderedVars) putIf(k, v string) {
	if v != "" {
		o.put(k, v)
	}
}

// commandLine returns the pairs that reach the command line: those with a
// non-empty key and value, the value trimmed as Rosco does.
func (o *orderedVars) commandLine() []Var {
	var out []Var
	for _, v := range o.vars {
		if v.Key != "" && v.Value != "" {
			out = append(out, Var{Key: v.Key, Value: javaTrim(v.Value)})
		}
	}
	return out
}

// javaTrim is Java's String.trim: it strips every character up to ' '
// (control characters included) from both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// javaHashMapOrder orders vars as a java.util.HashMap with default
// settings iterates them after inserting them in the given order: by
// bucket (spread String.hashCode masked to the table size, which doubles
// past 3/4 load), then insertion order within a bucket. It is exact while
// no bucket holds 8 or more entries. Packer ignores -var order; this only
// keeps Bakehouse's command line identical to Rosco's.
func javaHashMapOrder(vars []Var) []Var {
	capacity := 16
	for len(vars) > capacity*3/4 {
		capacity *= 2
	}
	type entry struct {
		v      Var
		bucket int
	}
	entries := make([]entry, len(vars))
	for i, v := range vars {
		h := javaStringHash(v.Key)
		h ^= h >> 16
		entries[i] = entry{v: v, bucket: int(h & uint32(capacity-1))}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].bucket < entries[j].bucket })
	out := make([]Var, len(entries))
	for i, e := range entries {
		out[i] = e.v
	}
	return out
}

// javaStringHash is Java's String.hashCode over UTF-16 code units.
func javaStringHash(s string) uint32 {
	var h uint32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + uint32(c)
	}
	return h
}
