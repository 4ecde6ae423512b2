package bakehouse

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
)

// RoscoBakeKey is Rosco's bake key, byte for byte: the key under which a
// bake is cached, so that a request with the same key gets the running or
// successful bake back. It is
//
//	bake:<cloud_provider_type>[:base_os][:base_ami][:ami_name][:template_file_name][:var_file_name]:<packages joined by |>[:<artifact references joined by |>][:<provider component>]
//
// where empty optional parts are left out (so positions are not fixed)
// but the package part is always present. The AWS component is
// <region>:<vm_type>:enhancedNW(Enabled|Disabled); Docker has none, so a
// Docker key ignores the region. A missing cloud_provider_type is the
// configured default (else aws) and a missing vm_type the AWS
// defaultVirtualizationType (else hvm), as in Rosco. ami_suffix is never
// part of the key: Orca sends a new one on every run.
func RoscoBakeKey(region string, req BakeRequest, cfg Config) string {
	return roscoBakeKey(region, req, cfg.ProviderType(req), cfg.VMType(req))
}

// roscoBakeKey is RoscoBakeKey with the provider and VM type resolved.
func roscoBakeKey(region string, req BakeRequest, provider, vmType string) string {
	keys := []string{"bake"}
	for _, s := range []string{provider, req.BaseOS, req.BaseAMI, req.AMIName, req.TemplateFileName, req.VarFileName} {
		if s != "" {
			keys = append(keys, s)
		}
	}
	keys = append(keys, strings.Join(tokenize(req.Package), "|"))
	if len(req.PackageArtifacts) > 0 {
		refs := make([]string, len(req.PackageArtifacts))
		for i, a := range req.PackageArtifacts {
			refs[i] = a.Reference
		}
		keys = append(keys, strings.Join(refs, "|"))
	}
	if provider == "aws" {
		nw := "enhancedNWDisabled"
		if req.EnhancedNetworking != nil && *req.EnhancedNetworking {
			nw = "enhancedNWEnabled"
		}
		keys = append(keys, region+":"+vmType+":"+nw)
	}
	return strings.Join(keys, ":")
}

// KeyExtras are the inputs of a bake that Rosco leaves out of its key but
// that change the image. Rosco hands back a cached image when only these
// differ; Bakehouse adds a digest of them to the key so it bakes anew.
// Nil and empty maps or slices are the same input.
type KeyExtras struct {
	ExtendedAttributes map[string]string `json:"extended_attributes,omitempty"`
	Upgrade            bool              `json:"upgrade,omitempty"`
	Organization       string            `json:"organization,omitempty"`      // docker
	DockerTag          string            `json:"docker_tag,omitempty"`        // the requested tag, never the timestamp fallback
	ResolvedPackages   []string          `json:"resolved_packages,omitempty"` // name=version-release:arch
	BaseImage          string            `json:"base_image,omitempty"`        // resolved source AMI or docker source image
	TemplateDigest     string            `json:"template_digest,omitempty"`   // of the template file's contents
	VarFileDigest      string            `json:"var_file_digest,omitempty"`   // of the var file's contents
}

// BakeKey is Bakehouse's key: the Rosco key, ":", and the lowercase hex
// SHA-256 of an unambiguous encoding of x (every string length-prefixed,
// map entries sorted by key), so that different extras never share a
// digest and the part before the last ':' still matches Rosco's key.
func BakeKey(roscoKey string, x KeyExtras) string {
	h := sha256.New()
	e := keyEncoder{h: h}
	e.str("bakehouse-key-extras-v1")
	keys := make([]string, 0, len(x.ExtendedAttributes))
	for k := range x.ExtendedAttributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(x.ExtendedAttributes[k])
	}
	if x.Upgrade {
		e.uint(1)
	} else {
		e.uint(0)
	}
	e.str(x.Organization)
	e.str(x.DockerTag)
	e.uint(uint64(len(x.ResolvedPackages)))
	for _, p := range x.ResolvedPackages {
		e.str(p)
	}
	e.str(x.BaseImage)
	e.str(x.TemplateDigest)
	e.str(x.VarFileDigest)
	return roscoKey + ":" + hex.EncodeToString(h.Sum(nil))
}

// keyEncoder writes length-prefixed values into a hash.
type keyEncoder struct{ h hash.Hash }

func (e keyEncoder) uint(n uint64) {
	var buf [binary.MaxVarintLen64]byte
	e.h.Write(buf[:binary.PutUvarint(buf[:], n)])
}

func (e keyEncoder) str(s string) {
	e.uint(uint64(len(s)))
	e.h.Write([]byte(s))
}
