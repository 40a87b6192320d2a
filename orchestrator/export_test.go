package orchestrator

// EncodeEvent is the journal's own encoding of e (see appendEvent).
func EncodeEvent(e *Event) ([]byte, bool) { return appendEvent(nil, e) }
