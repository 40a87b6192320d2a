// Package openai is the model.Model of any OpenAI-compatible chat completions
// endpoint (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio, …), built on
// github.com/sashabaranov/go-openai. It maps entrust's requests, tool
// definitions and tool choice to the API and the answers and errors back;
// it does not retry: compose model.WithRetry for that.
//
// Compatible servers differ from OpenAI and from each other; this package
// smooths over the differences it knows of:
//
//   - "content": null, or content as an array of parts, reads as text.
//   - Tool calls without an id get a stable one, derived from the response,
//     the conversation length, the call's index, name and arguments.
//   - finish_reason "stop" (or "function_call", or none) on a message with
//     tool calls is normalised to "tool_calls".
//   - A legacy function_call answer reads as one tool call.
//   - Empty tool arguments read as "{}"; a tool without a parameter schema is
//     sent with an empty object schema, which strict servers require.
//   - tool_choice and parallel_tool_calls are sent only with tools, since
//     OpenAI refuses them otherwise.
//   - A temperature of exactly 0 is sent (go-openai would drop it as empty).
//   - Reasoning models (o1, o3, o4, gpt-5, gpt-6 families) get
//     max_completion_tokens and no temperature, as their API demands.
//   - In streams, tool-call fragments are merged by their index, so parallel
//     calls whose fragments interleave come out whole; fragments without an
//     index are attributed by id. A stream that ends before any finish reason
//     is reported as truncated.
//   - Servers that report no usage get an estimate (model.EstimateUsage);
//     cached prompt tokens are read from prompt_tokens_details.
//   - Error bodies in any of the shapes {"error":{"message","type","code"}},
//     {"error":"…"}, {"message":…} or plain text become a *model.APIError
//     with the HTTP status, and the Retry-After (seconds or HTTP date) or
//     retry-after-ms header of the answer, which go-openai does not expose,
//     read by a wrapper of the HTTP client.
//   - A 200 answer with no choices, malformed JSON or a truncated body is an
//     error matching model.ErrMalformed (and io.ErrUnexpectedEOF when cut).
package openai
