package orchestrator

// EncodeEvent is the journal's own encoding of e (see appendEvent).
func EncodeEvent(e *Event) ([]byte, bool) { return appendEvent(nil, e) }

// BuiltinCheck is the built-in check named name.
func BuiltinCheck(name string) CheckFunc { return builtinChecks()[name] }
