package workspace_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
)

// fixture is a workspace inside a parent directory that also holds a secret
// file and directory outside the workspace, for the escapes to aim at.
type fixture struct {
	ws      *workspace.Workspace
	dir     string // the workspace
	outside string // a sibling directory outside it
	tools   map[string]agents.Tool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "ws")
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("top secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("top secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	f := &fixture{ws: ws, dir: dir, outside: outside, tools: map[string]agents.Tool{}}
	for _, tool := range ws.Tools() {
		f.tools[tool.Def().Name] = tool
	}
	return f
}

func (f *fixture) call(t *testing.T, name string, args any) agents.Result {
	t.Helper()
	tool, ok := f.tools[name]
	if !ok {
		t.Fatalf("no tool %s", name)
	}
	var raw []byte
	switch a := args.(type) {
	case string:
		raw = []byte(a)
	default:
		var err error
		if raw, err = json.Marshal(a); err != nil {
			t.Fatal(err)
		}
	}
	return tool.Call(t.Context(), raw)
}

func TestNewCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	if !filepath.IsAbs(ws.Dir()) {
		t.Errorf("Dir() = %q, want absolute", ws.Dir())
	}
	if _, err := workspace.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
}

func TestToolsMatchToolNames(t *testing.T) {
	f := newFixture(t)
	var names []string
	for _, tool := range f.ws.Tools() {
		names = append(names, tool.Def().Name)
		if agents.IsProtocolTool(tool.Def().Name) {
			t.Errorf("%s has a protocol tool's name", tool.Def().Name)
		}
	}
	if !slices.Equal(names, workspace.ToolNames()) {
		t.Errorf("tools %v, ToolNames %v", names, workspace.ToolNames())
	}
	concurrent := map[string]bool{}
	for _, tool := range f.ws.Tools() {
		c, ok := tool.(interface{ Concurrent() bool })
		concurrent[tool.Def().Name] = ok && c.Concurrent()
	}
	want := map[string]bool{"read_file": true, "list_files": true, "write_file": false}
	for n, w := range want {
		if concurrent[n] != w {
			t.Errorf("%s concurrent = %v, want %v", n, concurrent[n], w)
		}
	}
	// The tools must fit an agent: no protocol names, no duplicates.
	a := agents.Agent{Name: "writer", Model: nil, Tools: f.ws.Tools()}
	if err := a.Validate(); err != nil && !strings.Contains(err.Error(), "no model") {
		t.Errorf("Validate: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	res := f.call(t, "write_file", workspace.WriteFileArgs{Path: "notes/deep/a.md", Content: "# Hello\n"})
	if res.IsError {
		t.Fatalf("write_file: %s", res.Content)
	}
	if want := "wrote 8 bytes to notes/deep/a.md"; res.Content != want {
		t.Errorf("write_file = %q, want %q", res.Content, want)
	}
	if b, err := os.ReadFile(filepath.Join(f.dir, "notes", "deep", "a.md")); err != nil || string(b) != "# Hello\n" {
		t.Fatalf("on disk: %q, %v", b, err)
	}
	res = f.call(t, "read_file", workspace.ReadFileArgs{Path: "notes/deep/a.md"})
	if res.IsError || res.Content != "# Hello\n" {
		t.Errorf("read_file = %+v", res)
	}
	// Overwrite replaces the content.
	if res = f.call(t, "write_file", workspace.WriteFileArgs{Path: "notes/deep/a.md", Content: "x"}); res.IsError {
		t.Fatal(res.Content)
	}
	if res = f.call(t, "read_file", workspace.ReadFileArgs{Path: "./notes/../notes/deep/a.md"}); res.Content != "x" {
		t.Errorf("read after overwrite = %+v", res)
	}
	f.call(t, "write_file", workspace.WriteFileArgs{Path: "b.txt", Content: "hey"})
	f.call(t, "write_file", workspace.WriteFileArgs{Path: "empty.txt", Content: ""})

	for _, args := range []string{`{}`, `{"path":"."}`, `{"path":""}`} {
		res = f.call(t, "list_files", args)
		want := "b.txt (3 bytes)\nempty.txt (0 bytes)\nnotes/"
		if res.IsError || res.Content != want {
			t.Errorf("list_files %s = %+v, want %q", args, res, want)
		}
	}
	if res = f.call(t, "list_files", workspace.ListFilesArgs{Path: "notes"}); res.Content != "deep/" {
		t.Errorf("list_files notes = %+v", res)
	}
	if res = f.call(t, "read_file", workspace.ReadFileArgs{Path: "empty.txt"}); res.IsError || res.Content != "(empty file)" {
		t.Errorf("read empty = %+v", res)
	}
	if err := os.Mkdir(filepath.Join(f.dir, "void"), 0o755); err != nil {
		t.Fatal(err)
	}
	if res = f.call(t, "list_files", workspace.ListFilesArgs{Path: "void"}); res.IsError || res.Content != "(empty directory)" {
		t.Errorf("list empty = %+v", res)
	}
}

func TestEscapesAreRefused(t *testing.T) {
	f := newFixture(t)
	// Symbolic links planted in the workspace, pointing out of it.
	if err := os.Symlink(filepath.Join(f.outside, "secret.txt"), filepath.Join(f.dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.outside, filepath.Join(f.dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(f.dir, "rellink")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(f.outside, "secret.txt")
	cases := []struct {
		name string
		tool string
		args any
	}{
		{"read dotdot", "read_file", workspace.ReadFileArgs{Path: "../secret.txt"}},
		{"read nested dotdot", "read_file", workspace.ReadFileArgs{Path: "a/../../outside/secret.txt"}},
		{"read absolute", "read_file", workspace.ReadFileArgs{Path: secret}},
		{"read absolute inside", "read_file", workspace.ReadFileArgs{Path: "/etc/passwd"}},
		{"read file symlink", "read_file", workspace.ReadFileArgs{Path: "link.txt"}},
		{"read through dir symlink", "read_file", workspace.ReadFileArgs{Path: "linkdir/secret.txt"}},
		{"read through relative symlink", "read_file", workspace.ReadFileArgs{Path: "rellink/secret.txt"}},
		{"write dotdot", "write_file", workspace.WriteFileArgs{Path: "../pwned.txt", Content: "x"}},
		{"write absolute", "write_file", workspace.WriteFileArgs{Path: filepath.Join(f.outside, "pwned.txt"), Content: "x"}},
		{"write file symlink", "write_file", workspace.WriteFileArgs{Path: "link.txt", Content: "overwritten"}},
		{"write through dir symlink", "write_file", workspace.WriteFileArgs{Path: "linkdir/pwned.txt", Content: "x"}},
		{"write mkdir through dir symlink", "write_file", workspace.WriteFileArgs{Path: "linkdir/sub/pwned.txt", Content: "x"}},
		{"list dotdot", "list_files", workspace.ListFilesArgs{Path: ".."}},
		{"list absolute", "list_files", workspace.ListFilesArgs{Path: "/"}},
		{"list dir symlink", "list_files", workspace.ListFilesArgs{Path: "linkdir"}},
		{"list relative symlink", "list_files", workspace.ListFilesArgs{Path: "rellink"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := f.call(t, c.tool, c.args)
			if !res.IsError {
				t.Fatalf("not refused: %q", res.Content)
			}
			if !strings.Contains(res.Content, "escapes the workspace") {
				t.Errorf("error %q does not say the path escapes the workspace", res.Content)
			}
			if strings.Contains(res.Content, "top secret") {
				t.Errorf("leaked the secret: %q", res.Content)
			}
		})
	}
	// Nothing outside was touched.
	if b, _ := os.ReadFile(secret); string(b) != "top secret" {
		t.Errorf("secret changed: %q", b)
	}
	for _, p := range []string{filepath.Join(f.outside, "pwned.txt"), filepath.Join(filepath.Dir(f.dir), "pwned.txt"), filepath.Join(f.outside, "sub")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	// The listing shows the links without following them.
	res := f.call(t, "list_files", workspace.ListFilesArgs{})
	if !strings.Contains(res.Content, "linkdir (symbolic link)") {
		t.Errorf("list_files = %q", res.Content)
	}
}

func TestSymlinkInsideIsFollowed(t *testing.T) {
	f := newFixture(t)
	f.call(t, "write_file", workspace.WriteFileArgs{Path: "real/a.txt", Content: "inside"})
	if err := os.Symlink("real", filepath.Join(f.dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if res := f.call(t, "read_file", workspace.ReadFileArgs{Path: "alias/a.txt"}); res.IsError || res.Content != "inside" {
		t.Errorf("read through inner link = %+v", res)
	}
}

func TestInvalidArguments(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		tool, args, want string
	}{
		{"read_file", `{}`, "invalid arguments for read_file"},
		{"read_file", `{"path":""}`, "invalid arguments for read_file"},
		{"read_file", `{"path":3}`, "invalid arguments for read_file"},
		{"read_file", `{"path":"a","extra":1}`, "invalid arguments for read_file"},
		{"read_file", `{"path":`, "not valid JSON"},
		{"write_file", `{"content":"x"}`, "invalid arguments for write_file"},
		{"write_file", `{"path":"a.txt"}`, "invalid arguments for write_file"},
		{"write_file", `{"path":".","content":"x"}`, "workspace root"},
		{"list_files", `{"path":["a"]}`, "invalid arguments for list_files"},
	}
	for _, c := range cases {
		t.Run(c.tool+" "+c.args, func(t *testing.T) {
			res := f.call(t, c.tool, c.args)
			if !res.IsError || !strings.Contains(res.Content, c.want) {
				t.Errorf("got %+v, want an error containing %q", res, c.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	f := newFixture(t)
	f.call(t, "write_file", workspace.WriteFileArgs{Path: "d/a.txt", Content: "a"})
	if err := os.WriteFile(filepath.Join(f.dir, "big.txt"), make([]byte, workspace.MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "bin"), []byte{0xff, 0xfe, 0x00}, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tool string
		args       any
		want       string
	}{
		{"missing", "read_file", workspace.ReadFileArgs{Path: "nope.txt"}, "does not exist"},
		{"directory", "read_file", workspace.ReadFileArgs{Path: "d"}, "is a directory"},
		{"too big", "read_file", workspace.ReadFileArgs{Path: "big.txt"}, "limit"},
		{"binary", "read_file", workspace.ReadFileArgs{Path: "bin"}, "not UTF-8"},
		{"list a file", "list_files", workspace.ListFilesArgs{Path: "d/a.txt"}, "not a directory"},
		{"list missing", "list_files", workspace.ListFilesArgs{Path: "nope"}, "does not exist"},
		{"write too big", "write_file", workspace.WriteFileArgs{Path: "x.txt", Content: strings.Repeat("x", workspace.MaxFileSize+1)}, "limit"},
		{"write over dir", "write_file", workspace.WriteFileArgs{Path: "d", Content: "x"}, "d:"},
		{"write under file", "write_file", workspace.WriteFileArgs{Path: "d/a.txt/b.txt", Content: "x"}, "d/a.txt/b.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := f.call(t, c.tool, c.args)
			if !res.IsError || !strings.Contains(res.Content, c.want) {
				t.Errorf("got %.200q (error %v), want an error containing %q", res.Content, res.IsError, c.want)
			}
			if strings.Contains(res.Content, f.dir) {
				t.Errorf("error reveals the workspace location: %q", res.Content)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			p := filepath.Join("c", string(rune('a'+i))+".txt")
			if res := f.call(t, "write_file", workspace.WriteFileArgs{Path: p, Content: p}); res.IsError {
				t.Error(res.Content)
			}
			if res := f.call(t, "read_file", workspace.ReadFileArgs{Path: p}); res.Content != p {
				t.Errorf("read %s = %+v", p, res)
			}
			f.call(t, "list_files", workspace.ListFilesArgs{Path: "c"})
		})
	}
	wg.Wait()
}

func TestClosedWorkspaceFails(t *testing.T) {
	f := newFixture(t)
	f.ws.Close()
	if res := f.call(t, "list_files", workspace.ListFilesArgs{}); !res.IsError {
		t.Errorf("list after Close = %+v", res)
	}
}
