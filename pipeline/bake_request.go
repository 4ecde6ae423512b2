package pipeline

import (
	"strings"
	"unicode"
)

// Orca's BakeRequest: the body of POST /api/v1/{region}/bake. Orca binds
// the resolved stage context (camelCase) to BakeRequest's declared
// fields and keeps every other key, snake_cased, when roscoApisEnabled;
// on the wire the declared fields are snake_case too and null fields are
// left out.

type fieldKind int

const (
	kString fieldKind = iota
	kEnum
	kBool
	kInt
	kList
)

type requestField struct {
	key, wire string
	kind      fieldKind
	values    []string // kEnum
}

var bakeRequestFields = []requestField{
	{key: "user", wire: "user"},
	{key: "package", wire: "package"},
	{key: "packageType", wire: "package_type"},
	{key: "packageArtifacts", wire: "package_artifacts", kind: kList},
	{key: "buildHost", wire: "build_host"},
	{key: "job", wire: "job"},
	{key: "buildNumber", wire: "build_number"},
	{key: "commitHash", wire: "commit_hash"},
	{key: "buildInfoUrl", wire: "build_info_url"},
	{key: "cloudProviderType", wire: "cloud_provider_type", kind: kEnum,
		values: []string{"aws", "azure", "docker", "gce", "openstack", "titus", "oracle", "alicloud", "huaweicloud", "tencentcloud"}},
	{key: "baseLabel", wire: "base_label"},
	{key: "baseOs", wire: "base_os"},
	{key: "baseName", wire: "base_name"},
	{key: "baseAmi", wire: "base_ami"},
	{key: "vmType", wire: "vm_type", kind: kEnum, values: []string{"pv", "hvm"}},
	{key: "storeType", wire: "store_type", kind: kEnum, values: []string{"ebs", "s3", "docker"}},
	{key: "enhancedNetworking", wire: "enhanced_networking", kind: kBool},
	{key: "amiName", wire: "ami_name"},
	{key: "accountName", wire: "account_name"},
	{key: "sku", wire: "sku"},
	{key: "offer", wire: "offer"},
	{key: "publisher", wire: "publisher"},
	{key: "osType", wire: "os_type"},
	{key: "custom_managed_image_name", wire: "custom_managed_image_name"},
	{key: "amiSuffix", wire: "ami_suffix"},
	{key: "rootVolumeSize", wire: "root_volume_size", kind: kInt},
}

var declaredFields = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range bakeRequestFields {
		m[f.key] = true
	}
	return m
}()

// BakeRequestBody turns a resolved bake context into the JSON body Orca
// sends to the bakery. passThrough is bakery.roscoApisEnabled: with it,
// the keys BakeRequest does not declare (region, name, type,
// extendedAttributes, templateFileLocation...) go along snake_cased, the
// values unchanged; without it they are dropped. A declared field of the
// wrong shape (vmType "fast", a list for user) is a *UserError naming it,
// where Orca fails binding the request.
func BakeRequestBody(req map[string]any, passThrough bool) (map[string]any, error) {
	body := map[string]any{}
	for _, f := range bakeRequestFields {
		v, ok := req[f.key]
		if !ok || v == nil {
			continue
		}
		switch f.kind {
		case kString:
			s, ok := asString(v)
			if !ok {
				return nil, illegalArgument("%s must be a string, not %s", f.key, javaString(v))
			}
			body[f.wire] = s
		case kEnum:
			s, _ := v.(string)
			if !contains(f.values, s) {
				return nil, illegalArgument("%s %q is not one of %s", f.key, javaString(v), strings.Join(f.values, ", "))
			}
			body[f.wire] = s
		case kBool:
			b, ok := v.(bool)
			if !ok {
				return nil, illegalArgument("%s must be true or false, not %s", f.key, javaString(v))
			}
			body[f.wire] = b
		case kInt:
			n, ok := toInt(v)
			if !ok {
				return nil, illegalArgument("%s must be an integer, not %s", f.key, javaString(v))
			}
			body[f.wire] = n
		case kList:
			l := asList(v)
			if l == nil {
				return nil, illegalArgument("%s must be a list, not %s", f.key, javaString(v))
			}
			body[f.wire] = l
		}
	}
	if passThrough {
		for k, v := range req {
			if declaredFields[k] || v == nil {
				continue
			}
			if w := snakeCase(k); body[w] == nil {
				body[w] = v
			}
		}
	}
	return body, nil
}

// snakeCase is Jackson's SnakeCaseStrategy: an upper-case letter starts a
// new word (runs of capitals stay one word), a leading underscore goes.
func snakeCase(s string) string {
	var b strings.Builder
	prevUpper := false
	for i, r := range s {
		if i == 0 && r == '_' {
			continue
		}
		if unicode.IsUpper(r) {
			if !prevUpper && b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
			prevUpper = true
		} else {
			prevUpper = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}

// camelKeys turns the top-level keys of a bakery (snake_case) object into
// Orca's camelCase: artifact_account -> artifactAccount.
func camelKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		parts := strings.Split(k, "_")
		for i := 1; i < len(parts); i++ {
			if parts[i] != "" {
				parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
			}
		}
		out[strings.Join(parts, "")] = v
	}
	return out
}
