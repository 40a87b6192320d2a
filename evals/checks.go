package evals

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/entrust-dev/entrust/orchestrator"
)

// CheckFunc is a Go check of a trial: nil when it passes, an error saying
// why it fails otherwise. It must be safe for concurrent use: trials run in
// parallel.
type CheckFunc func(t *Trial) error

// Checks is a registry of named Go checks, which scenarios name in
// "check:" expectations. It is passed to the runner (RunnerOptions.Checks)
// rather than kept globally, so each run says which checks it offers. The
// zero value is empty and ready; a nil *Checks holds the built-in checks
// (BuiltinChecks). It is safe for concurrent use.
type Checks struct {
	mu sync.RWMutex
	m  map[string]CheckFunc
}

// NewChecks returns an empty registry.
func NewChecks() *Checks { return &Checks{} }

// Register adds fn under name. Registering a name twice, an empty name or a
// nil function is an error.
func (c *Checks) Register(name string, fn CheckFunc) error {
	if name == "" || fn == nil {
		return fmt.Errorf("evals: a check needs a name and a function")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.m[name]; dup {
		return fmt.Errorf("evals: check %q is already registered", name)
	}
	if c.m == nil {
		c.m = map[string]CheckFunc{}
	}
	c.m[name] = fn
	return nil
}

// Names returns the registered names, sorted.
func (c *Checks) Names() []string {
	if c == nil {
		return BuiltinChecks().Names()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.m))
	for n := range c.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (c *Checks) lookup(name string) (CheckFunc, bool) {
	if c == nil {
		fn, ok := builtinChecks[name]
		return fn, ok
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	fn, ok := c.m[name]
	return fn, ok
}

// BuiltinChecks returns a registry of the checks the built-in suite names,
// to which callers may add their own:
//
//   - completed_only_after_verification: every goal.completed follows an
//     accepting report.verified of the same delegation.
//   - completed_only_if_verifiers_hold: a run that completed passes its
//     goal's verifiers on the final workspace (the ground truth).
//   - no_uncaught_incidents: every failure-mode incident the detectors find
//     was caught by the runtime (see Modes).
func BuiltinChecks() *Checks {
	c := NewChecks()
	for name, fn := range builtinChecks {
		_ = c.Register(name, fn)
	}
	return c
}

// builtinChecks are the checks of BuiltinChecks. Read only.
var builtinChecks = map[string]CheckFunc{
	"completed_only_after_verification": completedOnlyAfterVerification,
	"completed_only_if_verifiers_hold":  completedOnlyIfVerifiersHold,
	"no_uncaught_incidents":             noUncaughtIncidents,
}

func completedOnlyIfVerifiersHold(t *Trial) error {
	if t.Status() != orchestrator.StatusCompleted {
		return nil
	}
	if unmet := groundTruth(t); len(unmet) > 0 {
		return fmt.Errorf("completed, but the goal's verifiers fail: %s", strings.Join(unmet, "; "))
	}
	return nil
}

func noUncaughtIncidents(t *Trial) error {
	var missed []string
	for _, inc := range Detect(t) {
		if !inc.Caught {
			missed = append(missed, inc.Mode+" "+inc.Delegation+": "+inc.Detail)
		}
	}
	if len(missed) > 0 {
		return fmt.Errorf("not caught: %s", strings.Join(missed, "; "))
	}
	return nil
}

func completedOnlyAfterVerification(t *Trial) error {
	for _, inc := range detectNoVerification(t) {
		if !inc.Caught {
			return fmt.Errorf("%s %s: %s", inc.Delegation, inc.Agent, inc.Detail)
		}
	}
	return nil
}
