package agents

import (
	"regexp"
	"testing"
)

// fileRE is what isFileName must answer as.
var fileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*\.[A-Za-z][A-Za-z0-9]{0,7}$`)

var fileNameSeeds = []string{
	"", ".", "a.", ".md", "a.md", "notes.md", "docs/plan.txt", "_x.go", "-x.go", "/etc/passwd.txt", "./a.md",
	"a..md", "a.b.c", "a.1", "a.m1", "a.abcdefgh", "a.abcdefghi", "a.tar.gz", "a-b_c/d.e", "A.B", "9.z",
	"a b.md", "é.md", "a.mé", "a.md\n", "a.md/", "a.m_", "a.m-", "e.g", "i.e.", "x.md.", "..", "a/.md",
	"a\x00.md", "a.MD", "Z9.Q1234567", "Z9.Q12345678",
}

// TestIsFileName: isFileName answers as the regular expression it stands
// for.
func TestIsFileName(t *testing.T) {
	matched := 0
	for _, s := range fileNameSeeds {
		if got, want := isFileName(s), fileRE.MatchString(s); got != want {
			t.Errorf("isFileName(%q) = %v, want %v", s, got, want)
		} else if want {
			matched++
		}
	}
	if matched < 10 {
		t.Fatalf("only %d seeds are file names", matched)
	}
}

func FuzzIsFileName(f *testing.F) {
	for _, s := range fileNameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isFileName(s), fileRE.MatchString(s); got != want {
			t.Errorf("isFileName(%q) = %v, want %v", s, got, want)
		}
	})
}
