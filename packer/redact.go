package packer

import (
	"slices"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// Mask replaces a secret wherever this package shows or keeps text: the
// same mask as bakehouse.MaskArgv's, so the command line and the output
// read alike.
const Mask = bakehouse.Mask

// minPieceLen is the shortest line of a multi-line secret that is masked
// on its own. Output is masked line by line, so a PEM key is masked by its
// lines; masking very short lines ("", "==") would wreck unrelated output.
const minPieceLen = 4

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
