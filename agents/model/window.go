package model

import "strings"

// ContextWindow returns the context window, in tokens, of m: what m says when
// it has a ContextWindow() int method that returns more than 0 (a provider
// that knows its server's limit), else the published window of a known model
// name (see KnownContextWindow), else 0 for unknown.
func ContextWindow(m Model) int {
	for x := m; x != nil; {
		if w, ok := x.(interface{ ContextWindow() int }); ok {
			if n := w.ContextWindow(); n > 0 {
				return n
			}
		}
		u, ok := x.(interface{ Unwrap() Model })
		if !ok {
			break
		}
		x = u.Unwrap()
	}
	if m == nil {
		return 0
	}
	return KnownContextWindow(m.Name())
}

// knownWindows are published context windows by model name prefix, longest
// prefix first within a family. Local servers (Ollama, llama.cpp) often run
// with a smaller window than the model's: set the agent's budget for them.
var knownWindows = []struct {
	prefix string
	tokens int
}{
	{"gpt-4.1", 1_047_576},
	{"gpt-4o", 128_000},
	{"gpt-4-turbo", 128_000},
	{"gpt-4-32k", 32_768},
	{"gpt-4", 8_192},
	{"gpt-3.5-turbo", 16_385},
	{"gpt-5", 400_000},
	{"o1-mini", 128_000},
	{"o1", 200_000},
	{"o3", 200_000},
	{"o4-mini", 200_000},
	{"claude", 200_000},
	{"gemini-1.5", 1_048_576},
	{"gemini-2", 1_048_576},
	{"llama3.1", 131_072},
	{"llama3.2", 131_072},
	{"llama3.3", 131_072},
	{"llama-3.1", 131_072},
	{"llama-3.2", 131_072},
	{"llama-3.3", 131_072},
	{"llama3", 8_192},
	{"llama-3", 8_192},
	{"qwen2.5", 32_768},
	{"qwen3", 40_960},
	{"mistral-large", 131_072},
	{"mistral-small", 32_768},
	{"mistral-nemo", 131_072},
	{"mistral", 32_768},
	{"mixtral", 32_768},
	{"gemma2", 8_192},
	{"gemma3", 131_072},
	{"phi3", 4_096},
	{"phi4", 16_384},
	{"deepseek", 65_536},
}

// KnownContextWindow returns the published context window of a model name,
// or 0 when the name is not known. It matches case-insensitively by prefix,
// after any "vendor/" path (Qwen/Qwen2.5-7B-Instruct reads as qwen2.5-7b…).
func KnownContextWindow(name string) int {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	for _, w := range knownWindows {
		if strings.HasPrefix(n, w.prefix) {
			return w.tokens
		}
	}
	return 0
}
