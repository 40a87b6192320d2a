// Package httpe2e holds the end-to-end tests and benchmarks of the delegation
// runtime over real HTTP. Every model is a scripted model served by the
// loopback OpenAI-compatible server of internal/openaitest and reached
// through a real provider (go-openai, plain or streamed, or langchaingo)
// wrapped in model.WithRetry, so a run crosses everything a run against a
// remote model crosses: request encoding, the wire, faults and retries,
// response decoding, usage. The package has no code besides its tests.
package httpe2e
