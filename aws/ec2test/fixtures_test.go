package ec2test

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
)

// leaves returns every element path and its text in an XML document, in
// a stable order (sorted), leaving out the request id.
func leaves(t *testing.T, doc string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var path []string
	var text strings.Builder
	var out []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			path = append(path, tok.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			p := strings.Join(path, "/")
			if !strings.HasSuffix(p, "/requestId") {
				out = append(out, p+"="+strings.TrimSpace(text.String()))
			}
			text.Reset()
			path = path[:len(path)-1]
		}
	}
	slices.Sort(out)
	return out
}

// The double's DescribeImages answers carry every element of the
// fixtures, with the same values, for the images the fixtures describe.
func TestDescribeImagesRendersTheFixtures(t *testing.T) {
	for _, name := range []string{"DescribeImages.source.xml", "DescribeImages.one.xml", "DescribeImages.pending.xml", "DescribeImages.copy.xml"} {
		t.Run(name, func(t *testing.T) {
			imgs, err := decodeImages(fixture(name))
			if err != nil || len(imgs) != 1 {
				t.Fatalf("decode: %v, %d images", err, len(imgs))
			}
			s := &Server{tb: t}
			got := s.renderImages(imgs, "")
			want := leaves(t, fixture(name))
			have := leaves(t, got.body)
			if !slices.Equal(have, want) {
				for _, l := range want {
					if !slices.Contains(have, l) {
						t.Errorf("missing %s", l)
					}
				}
				for _, l := range have {
					if !slices.Contains(want, l) {
						t.Errorf("extra %s", l)
					}
				}
			}
		})
	}
}

func TestWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*", "abc/def", true},
		{"*b*", "abc", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?`, "a?", true},
		{"a.c", "abc", false},
		{"ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-*", SourceAMIName, true},
	} {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}
