package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The Spinnaker expressions users write in a Bake stage, the small subset
// of SpEL Orca's pipelines use to carry a value from one stage to the
// next, above all the guide's base AMI:
//
//	${ #stage('Find Image from Tags')['context']['amiDetails'][0]['imageId'] }
//
// A root (#stage('<name>'), trigger, execution, parameters) followed by
// ['key'], ["key"], [0] or .key accessors. A string that is exactly one
// expression becomes its value (a number stays a number); expressions
// inside text are replaced by their text. Anything else is a *UserError
// naming the expression, never a half-evaluated value.

// Evaluate returns v with every expression in its strings evaluated
// against e as seen from stage s, walking objects and lists; v itself is
// not changed.
func Evaluate(e *Execution, s *Stage, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e2 := range x {
			ev, err := Evaluate(e, s, e2)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e2 := range x {
			ev, err := Evaluate(e, s, e2)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	case string:
		if !strings.Contains(x, "${") {
			return x, nil
		}
		return evalTemplate(e, x)
	}
	return v, nil
}

func exprError(expr, format string, args ...any) *UserError {
	return &UserError{Type: "SpelEvaluationException",
		Message: fmt.Sprintf("expression %s: %s", expr, fmt.Sprintf(format, args...))}
}

// evalTemplate evaluates the ${...} parts of s.
func evalTemplate(e *Execution, s string) (any, error) {
	var b strings.Builder
	rest := s
	for first := true; ; first = false {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		p := &exprParser{src: rest[i+2:]}
		val, err := p.parse(e)
		whole := first && i == 0 && p.end >= 0 && rest[i+2+p.end:] == ""
		text := rest[i:]
		if p.end >= 0 {
			text = rest[i : i+2+p.end]
		}
		if err != nil {
			if len(text) > 200 {
				text = text[:200] + "..."
			}
			return nil, exprError(text, "%s", err)
		}
		if whole {
			return val, nil
		}
		b.WriteString(javaString(val))
		rest = rest[i+2+p.end:]
	}
}

// exprParser reads one expression after "${", up to and including its
// closing "}"; end is the offset just past that brace (-1 until found).
type exprParser struct {
	src string
	pos int
	end int
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *exprParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *exprParser) parse(e *Execution) (any, error) {
	p.end = -1
	if e == nil {
		e = &Execution{}
	}
	p.skipSpace()
	val, err := p.root(e)
	if err != nil {
		p.findEnd()
		return nil, err
	}
	for {
		p.skipSpace()
		switch p.peek() {
		case '}':
			p.pos++
			p.end = p.pos
			return val, nil
		case '[':
			p.pos++
			p.skipSpace()
			key, err := p.index()
			if err != nil {
				p.findEnd()
				return nil, err
			}
			p.skipSpace()
			if p.peek() != ']' {
				p.findEnd()
				return nil, fmt.Errorf("expected ']' at %q", p.rest())
			}
			p.pos++
			if val, err = access(val, key); err != nil {
				p.findEnd()
				return nil, err
			}
		case '.':
			p.pos++
			p.skipSpace()
			name := p.ident()
			if name == "" {
				p.findEnd()
				return nil, fmt.Errorf("expected a name after '.' at %q", p.rest())
			}
			if val, err = access(val, name); err != nil {
				p.findEnd()
				return nil, err
			}
		case 0:
			return nil, fmt.Errorf("no closing '}'")
		default:
			p.findEnd()
			return nil, fmt.Errorf("unsupported syntax at %q: only #stage('name'), trigger, execution and parameters with ['key'], [0] or .key are understood", p.rest())
		}
	}
}

// findEnd moves end to the next '}' so that the error names the whole
// expression.
func (p *exprParser) findEnd() {
	if i := strings.IndexByte(p.src[p.pos:], '}'); i >= 0 {
		p.end = p.pos + i + 1
	}
}

func (p *exprParser) rest() string {
	r := p.src[p.pos:]
	if i := strings.IndexByte(r, '}'); i >= 0 {
		r = r[:i]
	}
	return r
}

func (p *exprParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := rune(p.src[p.pos])
		if !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '$') {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

// root reads #stage('name'), trigger, execution or parameters.
func (p *exprParser) root(e *Execution) (any, error) {
	if strings.HasPrefix(p.src[p.pos:], "#stage") {
		p.pos += len("#stage")
		p.skipSpace()
		if p.peek() != '(' {
			return nil, fmt.Errorf("expected '(' after #stage")
		}
		p.pos++
		p.skipSpace()
		name, err := p.quoted()
		if err != nil {
			return nil, fmt.Errorf("#stage needs a quoted stage name: %v", err)
		}
		p.skipSpace()
		if p.peek() != ')' {
			return nil, fmt.Errorf("expected ')' after #stage('%s'", name)
		}
		p.pos++
		for _, st := range e.Stages {
			if st.Name == name {
				return stageView(st), nil
			}
		}
		return nil, fmt.Errorf("no stage named %q in this execution", name)
	}
	switch name := p.ident(); name {
	case "trigger":
		return orEmpty(e.Trigger), nil
	case "execution":
		return executionView(e), nil
	case "parameters":
		return orEmpty(asMap(e.Trigger["parameters"])), nil
	case "":
		return nil, fmt.Errorf("unsupported syntax at %q: only #stage('name'), trigger, execution and parameters are understood", p.rest())
	default:
		return nil, fmt.Errorf("unknown name %q: only #stage('name'), trigger, execution and parameters are understood", name)
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// quoted reads a SpEL string literal in single or double quotes (a
// doubled quote stands for one).
func (p *exprParser) quoted() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("expected a quoted string at %q", p.rest())
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		if c == q {
			if p.peek() == q {
				b.WriteByte(q)
				p.pos++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("unterminated string")
}

// index reads a bracket's content: a quoted key or a non-negative integer.
func (p *exprParser) index() (any, error) {
	if c := p.peek(); c == '\'' || c == '"' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	if start == p.pos {
		return nil, fmt.Errorf("expected a quoted key or a number in [] at %q", p.rest())
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil {
		return nil, fmt.Errorf("index %s is too large", p.src[start:p.pos])
	}
	return n, nil
}

// access applies one accessor: a key of an object or an index of a list.
func access(v any, key any) (any, error) {
	switch k := key.(type) {
	case string:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cannot read ['%s'] of %s", k, kindOf(v))
		}
		val, ok := m[k]
		if !ok {
			return nil, fmt.Errorf("no key '%s' (has %s)", k, strings.Join(sortedKeys(m), ", "))
		}
		return val, nil
	case int:
		l := asList(v)
		if l == nil {
			return nil, fmt.Errorf("cannot read [%d] of %s", k, kindOf(v))
		}
		if k >= len(l) {
			return nil, fmt.Errorf("index [%d] is out of range: the list has %d elements", k, len(l))
		}
		return l[k], nil
	}
	return nil, fmt.Errorf("bad key %v", key)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// stageView is a stage as an expression reads it, with Orca's property
// names.
func stageView(s *Stage) map[string]any {
	v := map[string]any{
		"id": s.ID, "refId": s.RefID, "type": s.Type, "name": s.Name, "status": string(s.Status),
		"context": orEmpty(s.Context), "outputs": orEmpty(s.Outputs),
		"requisiteStageRefIds": asList(s.RequisiteStageRefIDs), "parentStageId": nil,
	}
	if v["requisiteStageRefIds"] == nil {
		v["requisiteStageRefIds"] = []any{}
	}
	if s.ParentStageID != nil {
		v["parentStageId"] = *s.ParentStageID
	}
	return v
}

func executionView(e *Execution) map[string]any {
	stages := make([]any, len(e.Stages))
	for i, s := range e.Stages {
		stages[i] = stageView(s)
	}
	return map[string]any{
		"id": e.ID, "type": e.Type, "application": e.Application, "name": e.Name,
		"status": string(e.Status), "pipelineConfigId": e.PipelineConfigID, "buildTime": e.BuildTime,
		"trigger": orEmpty(e.Trigger), "stages": stages,
	}
}

// findImageTypes are the stage types whose context.amiDetails (and
// outputs.deploymentDetails) list images per region.
var findImageTypes = map[string]bool{"findImageFromTags": true, "findImage": true, "findAmi": true, "findImageFromCluster": true}

// UpstreamImage is Bakehouse's baseAmiFromUpstream (beyond Spinnaker,
// spinnaker/spinnaker#1412): the image id for region found by the
// nearest find-image stage upstream of s, walking requisiteStageRefIds
// breadth first (from the parent for a region child). Nearer stages win;
// one without an image in region is passed over.
func UpstreamImage(e *Execution, s *Stage, region string) (string, bool) {
	start := s
	if s.ParentStageID != nil {
		if p := e.Stage(*s.ParentStageID); p != nil {
			start = p
		}
	}
	seen := map[*Stage]bool{start: true}
	queue := []*Stage{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, ref := range cur.RequisiteStageRefIDs {
			up := e.stageByRefID(ref)
			if up == nil || seen[up] {
				continue
			}
			seen[up] = true
			if findImageTypes[up.Type] {
				if id, ok := imageIn(up, region); ok {
					return id, true
				}
			}
			queue = append(queue, up)
		}
	}
	return "", false
}

func imageIn(s *Stage, region string) (string, bool) {
	for _, list := range []any{s.Outputs["deploymentDetails"], s.Context["amiDetails"]} {
		for _, d := range asList(list) {
			dm := asMap(d)
			if dm == nil || str(dm["region"]) != region {
				continue
			}
			if id := str(dm["imageId"]); id != "" {
				return id, true
			}
			if id := str(dm["ami"]); id != "" {
				return id, true
			}
		}
	}
	return "", false
}
