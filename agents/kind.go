package agents

import "unicode"

// ToolKind is what a tool's calls may change. The runtime weighs the
// evidence a call gives by it: which criteria the call's id supports,
// whether the call is work done on a revision's feedback, and whether a
// file the runtime never saw written may have been made by it. A tool
// declares its kind with ToolSpec.Kind or by implementing KindedTool;
// the runtime guesses the kind of one that does not from its name
// (KindFromName).
type ToolKind uint8

const (
	// KindUnknown is the kind of a tool that declares none and whose name
	// says nothing. The runtime trusts such a call with nothing: its id
	// supports no criterion, it is no work on a revision's feedback, and
	// it is not taken to have made any file.
	KindUnknown ToolKind = iota
	// KindReads is a tool that only reads: it changes nothing (read_file,
	// list_files, a search, a clock, a calculator). Its call ids support
	// only criteria about reading.
	KindReads
	// KindWritesFiles is a tool that writes the workspace file its path
	// argument ("path", "file", "file_path" or "filename") names, and has
	// no other effect (write_file, edit_file). A file it named is one the
	// work wrote. Only a declaration says so (ToolSpec.Kind, KindedTool, as
	// the workspace's write_file does): a name never does, for the file a
	// tool names may be what it reads (upload_file, put_object).
	KindWritesFiles
	// KindActs is a tool with effects the runtime cannot see: it runs
	// commands, moves files, commits or sends something (bash, move_file,
	// git_commit, send_email). Its call ids support a criterion, and a
	// file no visible writer named may be its work, which the runtime
	// then cannot check.
	KindActs
)

// String returns the kind as run tools shows it.
func (k ToolKind) String() string {
	switch k {
	case KindReads:
		return "reads"
	case KindWritesFiles:
		return "writes files"
	case KindActs:
		return "acts"
	}
	return "unknown"
}

// KindedTool is implemented by a tool that declares its kind, as tools
// defined with ToolSpec.Kind do.
type KindedTool interface {
	Tool
	// Kind reports what the tool's calls may change; KindUnknown declares
	// nothing.
	Kind() ToolKind
}

// KindOf returns t's kind: the one it declares (KindedTool), else the one
// its name suggests (KindFromName), else KindUnknown.
func KindOf(t Tool) ToolKind {
	if k, ok := t.(KindedTool); ok {
		if kind := k.Kind(); kind != KindUnknown {
			return kind
		}
	}
	return KindFromName(t.Def().Name)
}

var (
	// actWords, as a whole word of a tool's name, make it one with effects
	// the runtime cannot see: bash, run_command, move_file, git_commit,
	// send_email, replace_in_file, and the verbs of writing (write_file,
	// upload_file, put_object), whose path the tool may only read.
	actWords = map[string]bool{"bash": true, "sh": true, "zsh": true, "shell": true, "exec": true, "execute": true,
		"run": true, "command": true, "cmd": true, "terminal": true, "script": true, "eval": true, "spawn": true,
		"move": true, "mv": true, "rename": true, "copy": true, "cp": true, "delete": true, "remove": true,
		"rm": true, "mkdir": true, "replace": true, "insert": true, "update": true, "modify": true, "set": true,
		"commit": true, "push": true, "merge": true, "deploy": true, "install": true, "send": true,
		"publish": true, "download": true, "apply": true, "write": true, "overwrite": true, "create": true,
		"edit": true, "append": true, "save": true, "put": true, "patch": true, "upload": true, "store": true,
		"post": true, "drop": true, "truncate": true, "kill": true, "clear": true, "reset": true}
	// readWords, as a whole word of a tool's name with no act word, make
	// it a reader: read_file, list_files, get_output, search_files,
	// directory_tree.
	readWords = map[string]bool{"read": true, "get": true, "list": true, "search": true, "find": true, "view": true,
		"show": true, "stat": true, "glob": true, "grep": true, "cat": true, "head": true, "tail": true, "ls": true,
		"lookup": true, "query": true, "describe": true, "inspect": true, "info": true, "tree": true}
	// particles after "put" make it no act: put_together, put_away.
	particles = map[string]bool{"together": true, "away": true, "off": true, "back": true, "up": true,
		"down": true, "on": true, "aside": true, "forward": true}
)

// KindFromName guesses a tool's kind from the whole words of its name. It
// never guesses KindWritesFiles, which only a declaration gives: a name
// with a verb of acting or of writing and none of reading is KindActs
// (bash, run_command, move_file, git_commit, write_file, upload_file; not
// put_together); one with a verb of reading and none of acting is KindReads
// (read_file, list_files, directory_tree, get_status); one with both is
// KindUnknown, as is one with neither (fetch_url, calculator, now). Both
// kinds of word say nothing sure: search_and_replace acts, get_commit and
// get_merge_request only read, and either guess would prove too much (a
// reader taken for an actor would support any criterion and make files it
// never wrote uncheckable; an actor taken for a reader would pass for a
// read). Names are split at anything but a letter and where a lower-case
// letter meets an upper-case one (WriteFile is write, file).
func KindFromName(name string) ToolKind {
	words := nameWords(name)
	acts, reads := false, false
	for i, w := range words {
		switch {
		case actWords[w] && !(w == "put" && i+1 < len(words) && particles[words[i+1]]):
			acts = true
		case readWords[w]:
			reads = true
		}
	}
	switch {
	case acts && reads:
		return KindUnknown
	case acts:
		return KindActs
	case reads:
		return KindReads
	}
	return KindUnknown
}

// nameWords are the words of a tool's name, lower case.
func nameWords(tool string) []string {
	var out []string
	var cur []rune
	prevLower := false
	for _, r := range tool {
		switch {
		case !unicode.IsLetter(r):
			if len(cur) > 0 {
				out = append(out, string(cur))
			}
			cur, prevLower = cur[:0], false
			continue
		case unicode.IsUpper(r) && prevLower:
			out = append(out, string(cur))
			cur = cur[:0]
		}
		prevLower = unicode.IsLower(r)
		cur = append(cur, unicode.ToLower(r))
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}
