package datasets

import "testing"

func TestCleanPath(t *testing.T) {
	ok := map[string]string{"a.txt": "a.txt", "dir/b.png": "dir/b.png", "a//b/./c": "a/b/c", "中文/数据.csv": "中文/数据.csv", "dir/": "dir"}
	for in, want := range ok {
		got, err := CleanPath(in, "body.path")
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/../b", "a\\b", "a\x00b", ".", "./", string([]byte{0xff})} {
		if got, err := CleanPath(in, "body.path"); err == nil {
			t.Errorf("CleanPath(%q) = %q; want an error", in, got)
		}
	}
	if d, err := CleanDir("/", "query.dir"); err != nil || d != "" {
		t.Errorf("CleanDir(/) = %q, %v", d, err)
	}
}
