package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// recap plays a delegate asked to fold its older turns into a summary (a
// message opening with agents.FoldHeader): the summary so far, then the calls
// it made by tool, with the last few as they were written.
func recap(fold string) string {
	var prev string
	if _, rest, ok := strings.Cut(fold, "Your summary so far:\n"); ok {
		prev, _, _ = strings.Cut(rest, "\n\nThe turns to fold into it:")
	}
	counts := map[string]int{}
	var lines []string
	for l := range strings.Lines(fold) {
		call, ok := strings.CutPrefix(l, "- you called ")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(call, " ")
		counts[name]++
		lines = append(lines, clip(strings.TrimSpace(call), 160))
	}
	var b strings.Builder
	if prev = strings.TrimSpace(prev); prev != "" {
		b.WriteString(prev + "\n")
	}
	if len(lines) == 0 {
		b.WriteString("Nothing more was done in the folded turns.")
		return b.String()
	}
	var by []string
	for _, n := range slices.Sorted(maps.Keys(counts)) {
		by = append(by, fmt.Sprintf("%s ×%d", n, counts[n]))
	}
	fmt.Fprintf(&b, "Then I called %s. The last of those calls:\n", strings.Join(by, ", "))
	for _, l := range lines[max(0, len(lines)-3):] {
		b.WriteString("- " + l + "\n")
	}
	return strings.TrimSpace(b.String())
}

// folding reports whether a request asks for a summary of older turns: what
// its Metadata says, else a request without tools that opens with
// agents.FoldHeader.
func folding(v *view) bool {
	if md := v.req.Metadata; md != nil {
		return md.Purpose == model.PurposeCompact
	}
	return len(v.req.Tools) == 0 && strings.HasPrefix(v.user, agents.FoldHeader)
}
