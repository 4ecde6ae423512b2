package jenkins

import (
	"reflect"
	"testing"
)

// TestJavaProperties covers java.util.Properties.load's syntax beyond the
// fixture: separators, comments, continuations and escapes.
func TestJavaProperties(t *testing.T) {
	in := "# comment\n" +
		"! another comment \\\n" +
		"a=hello\n" +
		"  b : world  \n" +
		"c 3\n" +
		"d\n" +
		"e=one \\\n    two \\\n\tthree\n" +
		"f=ends with two backslashes\\\\\n" +
		"g\\ key\\=x=v\\u00e9\\t\\n\n" +
		"h==x\r\n" +
		"i=\n" +
		"\n" +
		"j=café\n" +
		"k=last\\"
	want := map[string]any{
		"a": "hello", "b": "world  ", "c": "3", "d": "", "e": "one two three",
		"f": `ends with two backslashes\`, "g key=x": "vé\t\n", "h": "=x", "i": "", "j": "café", "k": "last",
	}
	if got := javaProperties([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Latin-1 bytes, as Java reads them.
	if got := javaProperties([]byte("x=caf\xe9")); got["x"] != "café" {
		t.Errorf("latin-1: %q", got["x"])
	}
}
