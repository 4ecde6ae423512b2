package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Image is a local image as the find-image stages see it: its id, its
// names, when it was made and its labels (a docker bake labels its image
// with appversion, build_info_url and io.bakehouse.bake-id).
type Image struct {
	ID      string
	Tags    []string // repository:tag names
	Created time.Time
	Labels  map[string]string
}

// FindImages returns the engine's images that carry every label of
// labels ("key" or "key=value", as docker's label filter takes them),
// newest first.
func (c *Client) FindImages(ctx context.Context, labels []string) ([]Image, error) {
	args := []string{"image", "ls", "--quiet", "--no-trunc"}
	for _, l := range labels {
		if strings.TrimSpace(l) == "" || strings.ContainsAny(l, "\n\x00") {
			return nil, fmt.Errorf("find images: label filter %q is not key or key=value", l)
		}
		args = append(args, "--filter", "label="+l)
	}
	out, err := c.run(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("find images: %w", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range strings.Fields(out) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	out, err = c.run(ctx, append([]string{"image", "inspect", "--"}, ids...)...)
	if err != nil {
		return nil, fmt.Errorf("find images: %w", err)
	}
	var raw []struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
		Created  string   `json:"Created"`
		Config   struct {
			Labels map[string]string `json:"Labels"`
		} `json:"Config"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("find images: decode docker image inspect: %w", err)
	}
	imgs := make([]Image, 0, len(raw))
	for _, r := range raw {
		t, _ := time.Parse(time.RFC3339Nano, r.Created)
		imgs = append(imgs, Image{ID: r.ID, Tags: r.RepoTags, Created: t, Labels: r.Config.Labels})
	}
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
	return imgs, nil
}
