package runner

import (
	"context"
	"fmt"

	"github.com/bakehouse/bakehouse/pipeline"
)

// BakedImages lists the images Bakehouse baked and recorded (the
// bakery's Service.BakedImages): Find Image from Cluster stages choose
// from them, as Bakehouse keeps no inventory of deployed clusters.
type BakedImages interface {
	BakedImages(ctx context.Context) ([]pipeline.BakedImage, error)
}

// findImage runs the findImage task, which Orca names the same in Find
// Image from Tags and Find Image from Cluster stages: the stage's type
// says which one it is.
func (t *Tasks) findImage(ctx context.Context, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	if s.Type != pipeline.FindImageFromClusterType {
		return t.findImageFromTags(ctx, e, s)
	}
	if t.Baked == nil {
		return "", nil, nil, fmt.Errorf("no bakery is configured to find baked images in")
	}
	// Expressions (a cluster named ${trigger['properties']['cluster']}...)
	// are evaluated first, as Orca evaluates a stage's context before its
	// tasks.
	v, err := pipeline.Evaluate(e, s, s.Context)
	if err != nil {
		return "", nil, nil, err
	}
	evaluated := *s
	evaluated.Context, _ = v.(map[string]any)
	images, err := t.Baked.BakedImages(ctx)
	if err != nil {
		return "", nil, nil, fmt.Errorf("list baked images: %w", err)
	}
	update, outputs, err := pipeline.FindImageFromBakes(e, &evaluated, images)
	return pipeline.Succeeded, update, outputs, err
}
