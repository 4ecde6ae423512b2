package http

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// bakeOptions is Rosco's BakeOptions body.
type bakeOptions struct {
	CloudProvider string            `json:"cloudProvider"`
	BaseImages    []baseImageOption `json:"baseImages"`
}

type baseImageOption struct {
	ID                  string `json:"id"`
	ShortDescription    string `json:"shortDescription,omitempty"`
	DetailedDescription string `json:"detailedDescription,omitempty"`
	PackageType         string `json:"packageType,omitempty"`
	TemplateFile        string `json:"templateFile,omitempty"`
	OSType              string `json:"osType,omitempty"`
	VMType              string `json:"vmType,omitempty"`
}

func optionOf(b bakehouse.BaseImage) baseImageOption {
	return baseImageOption{ID: b.ID, ShortDescription: b.ShortDescription, DetailedDescription: b.DetailedDescription,
		PackageType: strings.ToUpper(b.PackageType), TemplateFile: b.TemplateFile, OSType: b.OSType}
}

func optionsFor(cfg bakehouse.Config, provider string) (bakeOptions, bool) {
	o := bakeOptions{CloudProvider: provider, BaseImages: []baseImageOption{}}
	if !cfg.ProviderEnabled(provider) {
		return o, false
	}
	switch provider {
	case "docker":
		for _, b := range cfg.Docker.BakeryDefaults.BaseImages {
			o.BaseImages = append(o.BaseImages, optionOf(b.BaseImage))
		}
	case "aws":
		for _, b := range cfg.AWS.BakeryDefaults.BaseImages {
			o.BaseImages = append(o.BaseImages, optionOf(b.BaseImage))
		}
	}
	return o, true
}

// optionsNotFound writes Rosco's bake-options 404 body.
func optionsNotFound(w http.ResponseWriter, msg string) {
	encode(w, http.StatusNotFound, map[string]any{"error": "bake.options.not.found", "status": "NOT_FOUND", "messages": []string{msg}})
}

func (s *Server) handleBakeOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := s.bakery.Config()
		out := []bakeOptions{}
		for _, p := range []string{"aws", "docker"} {
			if o, ok := optionsFor(cfg, p); ok {
				out = append(out, o)
			}
		}
		encode(w, http.StatusOK, out)
	})
}

func (s *Server) handleBakeOptionsProvider() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("provider")
		o, ok := optionsFor(s.bakery.Config(), p)
		if !ok {
			optionsNotFound(w, fmt.Sprintf("Bake options not found. Cloud provider %s not found", p))
			return
		}
		encode(w, http.StatusOK, o)
	})
}

func (s *Server) handleBaseImage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, id := r.PathValue("provider"), r.PathValue("id")
		o, ok := optionsFor(s.bakery.Config(), p)
		if !ok {
			optionsNotFound(w, fmt.Sprintf("Bake options not found. Cloud provider %s not found", p))
			return
		}
		var ids []string
		for _, b := range o.BaseImages {
			if b.ID == id {
				encode(w, http.StatusOK, b)
				return
			}
			ids = append(ids, b.ID)
		}
		optionsNotFound(w, fmt.Sprintf("Bake options not found. Can't find base image with id %s in %s base images: %s", id, p, strings.Join(ids, ", ")))
	})
}
