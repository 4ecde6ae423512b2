package packer

import (
	"slices"
	"strings"
)

// Mask replaces a secret wherever this package shows or keeps text.
// It is Rosco's mask, so masked command lines look the same in both.
const Mask = "******"

// minPieceLen is the shortest line of a multi-line secret that is masked
// on its own. Output is masked line by line, so a PEM key is masked by its
// lines; masking very short lines ("", "==") would wreck unrelated output.
const minPieceLen = 4

// RedactArgv returns a copy of argv with the value of every parameter named
// in maskedParams replaced by Mask: a token "key=value" whose key is masked
// (Rosco's rule, which covers "-var key=value"), and also "-var=key=value"
// and "--var=key=value", which Packer accepts too. Use it for any command
// line that is logged, stored or shown.
func RedactArgv(argv []string, maskedParams []string) []string {
	out := make([]string, len(argv))
	for i, tok := range argv {
		out[i] = tok
		if k, _, ok := strings.Cut(tok, "="); ok && k != "" && slices.Contains(maskedParams, k) {
			out[i] = k + "=" + Mask
			continue
		}
		for _, flag := range []string{"-var=", "--var="} {
			if rest, ok := strings.CutPrefix(tok, flag); ok {
				if k, _, ok := strings.Cut(rest, "="); ok && k != "" && slices.Contains(maskedParams, k) {
					out[i] = flag + k + "=" + Mask
				}
			}
		}
	}
	return out
}

// MaskedValues returns the values of the masked parameters in argv, in the
// forms RedactArgv recognizes, for RunOptions.Mask: Packer or a provisioner
// may print a secret variable, and only its value can be matched there.
func MaskedValues(argv []string, maskedParams []string) []string {
	var vals []string
	for _, tok := range argv {
		tok = strings.TrimPrefix(strings.TrimPrefix(tok, "--var="), "-var=")
		if k, v, ok := strings.Cut(tok, "="); ok && v != "" && slices.Contains(maskedParams, k) {
			vals = append(vals, v)
		}
	}
	return vals
}

// Redactor replaces secret values in text with Mask. The zero value and
// nil redact nothing.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor returns a Redactor for secrets. Besides each value it masks
// the value as Packer's -machine-readable output escapes it (commas as
// %!(PACKER_COMMA), line ends as \n and \r) and, for a multi-line value,
// each of its lines of at least four characters, because output is masked
// one line at a time. Longer values are matched first, so a secret that
// contains another is masked whole.
func NewRedactor(secrets []string) *Redactor {
	var olds []string
	add := func(s string) {
		if s != "" && !slices.Contains(olds, s) {
			olds = append(olds, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(machineEscape(s))
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
				if len(line) >= minPieceLen {
					add(line)
				}
			}
		}
	}
	if len(olds) == 0 {
		return &Redactor{}
	}
	// strings.Replacer tries the pairs in argument order at each position.
	slices.SortStableFunc(olds, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		pairs = append(pairs, o, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Redact returns s with every secret replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// machineEscape writes s as Packer's -machine-readable output does.
func machineEscape(s string) string {
	s = strings.ReplaceAll(s, ",", commaEscape)
	s = strings.ReplaceAll(s, "\r", `\r`)
	return strings.ReplaceAll(s, "\n", `\n`)
}
