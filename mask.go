package bakehouse

import (
	"maps"
	"slices"
	"strings"
)

// Mask replaces a secret wherever Bakehouse shows or keeps text. It is
// Rosco's mask, so masked command lines read the same in both.
const Mask = "******"

// MaskArgv returns a copy of argv with the value of every parameter named
// in masked replaced by Mask. It is the one masking of a Packer command
// line: the plan, the stored record, the "Running:" log line and every API
// answer show only its result. A parameter is recognized wherever it
// comes from (the -var pairs Bakehouse builds, extended attributes, and
// packer.additionalParameters written either way), in each form Packer
// accepts:
//
//	-var key=value     the "key=value" token (Rosco's rule: a token whose
//	                   text before the first '=' is a masked name)
//	-var=key=value     and --var=key=value
func MaskArgv(argv, masked []string) []string {
	out := slices.Clone(argv)
	for i, tok := range argv {
		if prefix, _, ok := secretToken(tok, masked); ok {
			out[i] = prefix + Mask
		}
	}
	return out
}

// SecretValues returns the values MaskArgv hides, so that Packer's output
// can be masked too: a template or provisioner may print a variable, and
// there only its value can be recognized.
func SecretValues(argv, masked []string) []string {
	var vals []string
	for _, tok := range argv {
		if _, v, ok := secretToken(tok, masked); ok && v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return vals
}

// secretToken splits a token that sets a masked parameter into the part
// kept in clear ("key=", "-var=key=") and the secret value.
func secretToken(tok string, masked []string) (prefix, value string, ok bool) {
	rest := tok
	for _, flag := range []string{"--var=", "-var="} {
		if r, found := strings.CutPrefix(tok, flag); found {
			rest = r
			break
		}
	}
	k, v, found := strings.Cut(rest, "=")
	if !found || k == "" || !slices.Contains(masked, k) {
		return "", "", false
	}
	return tok[:len(tok)-len(v)], v, true
}

// MaskAttributes returns attrs with the values of masked parameters
// replaced by Mask (attrs itself when none is), the form in which extended
// attributes are stored, keyed and shown.
func MaskAttributes(attrs map[string]string, masked []string) map[string]string {
	var out map[string]string
	for k, v := range attrs {
		if v == "" || !slices.Contains(masked, k) {
			continue
		}
		if out == nil {
			out = maps.Clone(attrs)
		}
		out[k] = Mask
	}
	if out == nil {
		return attrs
	}
	return out
}
