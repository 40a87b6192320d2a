package model

// replaced ends the reasons SaneUsage gives, made constant so that saying
// one costs nothing.
const replaced = ": replaced by the local estimate"

// maxUsage bounds any one count a provider may report for one call.
const maxUsage = 1 << 30

// SaneUsage checks the usage a provider reported for resp against a local
// estimate (EstimateUsage) and, when it cannot be right, replaces it by the
// estimate and says why: a count that is negative or overflowing, prompt
// tokens more than eight times the estimate of the request or less than an
// eighth of it (an endpoint under-reporting to slip past a token budget),
// completion tokens beyond the request's MaxTokens, or cached tokens beyond
// the prompt's. It returns "" when the usage stands. resp may be nil.
func SaneUsage(req *Request, resp *Response) string {
	if resp == nil {
		return ""
	}
	u := resp.Usage
	est := EstimateUsage(req, &resp.Message)
	var why string
	switch {
	case u.PromptTokens < 0 || u.CompletionTokens < 0 || u.CachedTokens < 0:
		why = "negative token counts" + replaced
	case u.PromptTokens > maxUsage || u.CompletionTokens > maxUsage || u.CachedTokens > maxUsage:
		why = "overflowing token counts" + replaced
	case u.PromptTokens > 8*est.PromptTokens+1024:
		why = "prompt tokens far above the estimate of the request" + replaced
	case u.PromptTokens < est.PromptTokens/8:
		why = "prompt tokens far below the estimate of the request" + replaced
	case req.MaxTokens > 0 && u.CompletionTokens > 2*req.MaxTokens+1024:
		why = "completion tokens far above the request's max_tokens" + replaced
	case u.CachedTokens > u.PromptTokens:
		why = "more cached tokens than prompt tokens" + replaced
	}
	if why == "" {
		return ""
	}
	resp.Usage = est
	return why
}
