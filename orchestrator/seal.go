package orchestrator

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A sealed journal is one whose every line carries a seal: an HMAC-SHA256,
// keyed by a secret held outside the journal, of the line and of the seal
// of the line before it. Whoever can edit the journal file but does not hold
// the key can neither change a line, nor insert, drop, reorder or graft one,
// without the seals failing from that line on. The first line (run.started)
// also names the key by its id, so that a journal sealed with another key is
// told from a forged one.
//
// The seal is the last member of each line's JSON object,
// `,"seal":"<64 hex digits>"}`, and covers the line's bytes before it, as
// written: checking it needs no canonical form of the event.

// EnvJournalKey names the environment variable that holds the key journals
// are sealed with (LoadJournalKey), when it is set: at least 32 characters,
// used as they are.
const EnvJournalKey = "ENTRUST_JOURNAL_KEY"

// ErrJournalKey is matched by LoadJournalKey's errors: no key could be had,
// or the one found cannot be trusted.
var ErrJournalKey = errors.New("journal key")

// JournalKeyFile returns where LoadJournalKey keeps the key when
// EnvJournalKey is not set: entrust/journal.key in the user's configuration
// directory (os.UserConfigDir).
func JournalKeyFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("%w: %w (set %s)", ErrJournalKey, err, EnvJournalKey)
	}
	return filepath.Join(dir, "entrust", "journal.key"), nil
}

// LoadJournalKey returns the key journals are sealed with and says where it
// came from: EnvJournalKey when it is set, else JournalKeyFile, which is
// made (32 random bytes, hex, mode 0600 in a 0700 directory) when create is
// true and it does not exist yet. A key file others can read or write, or
// that is not a regular file, is refused rather than used: a key someone
// else can read seals nothing.
func LoadJournalKey(create bool) (key []byte, from string, err error) {
	if v, ok := os.LookupEnv(EnvJournalKey); ok {
		if len(v) < 32 {
			return nil, "", fmt.Errorf("%w: %s holds %d characters; it needs at least 32", ErrJournalKey, EnvJournalKey, len(v))
		}
		return []byte(v), "$" + EnvJournalKey, nil
	}
	path, err := JournalKeyFile()
	if err != nil {
		return nil, "", err
	}
	key, err = readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err = createKeyFile(path)
	}
	if err != nil {
		return nil, "", err
	}
	return key, path, nil
}

func readKeyFile(path string) ([]byte, error) {
	info, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrJournalKey, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrJournalKey, path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s can be read or written by others (mode %04o); make it 0600 (chmod 600 %s)", ErrJournalKey, path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournalKey, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%w: %s does not hold a key (hex, 32 bytes)", ErrJournalKey, path)
	}
	return key, nil
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournalKey, err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // made meanwhile by another run
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournalKey, err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%w: %w", ErrJournalKey, err)
	}
	return key, nil
}

// JournalKeyID returns the id that names key in a sealed journal's
// run.started (key_id): a digest of it from which it cannot be recovered.
func JournalKeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("entrust journal key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

const sealPrefix = `,"seal":"`

// sealLen is the length of a seal member with the closing brace.
const sealLen = len(sealPrefix) + 2*sha256.Size + len(`"}`)

// sealer seals the lines of a journal.
type sealer struct {
	key  []byte
	mac  hash.Hash // HMAC-SHA256 keyed by key, reset for each line
	prev []byte    // the seal of the line before; nil before the first
	buf  bytes.Buffer
	line []byte // the line being sealed, reused
}

// seal returns e's sealed line, with its newline. The bytes are valid until
// the next call.
func (s *sealer) seal(e *Event) ([]byte, error) {
	if e.Seal != "" || e.KeyID != "" {
		c := *e // an event read from a sealed journal: its old seal goes
		c.Seal, c.KeyID = "", ""
		e = &c
	}
	line, err := appendLine(s.line[:0], e)
	if err != nil {
		return nil, err
	}
	s.line = line
	b := line[:len(line)-2] // "}\n"
	if s.prev == nil {
		b = append(b, `,"key_id":"`+JournalKeyID(s.key)+`"`...)
	}
	s.mac.Reset()
	s.mac.Write(s.prev)
	s.mac.Write(b)
	s.prev = s.mac.Sum(s.prev[:0])
	b = append(b, sealPrefix...)
	b = hex.AppendEncode(b, s.prev)
	b = append(b, "\"}\n"...)
	s.buf.Reset()
	s.buf.Write(b)
	return s.buf.Bytes(), nil
}

func sealOf(key, prev, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(prev)
	m.Write(body)
	return m.Sum(nil)
}

// Seal makes the journal seal every line it writes from now on with key,
// continuing the chain from after: the seal of the last line already in the
// journal (Integrity.Last, for a sealed journal a resumed run appends to),
// or "" for a new journal, whose first line then names the key
// (JournalKeyID). Lines written before Seal are not sealed. An after that is
// not a seal is an error.
func (j *Journal) Seal(key []byte, after string) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty", ErrJournalKey)
	}
	var prev []byte
	if after != "" {
		var err error
		if prev, err = hex.DecodeString(after); err != nil || len(prev) != sha256.Size {
			return fmt.Errorf("journal: %q is not a seal", after)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	s := &sealer{key: key, mac: hmac.New(sha256.New, key), prev: prev}
	j.sealer = s
	return nil
}

// IntegrityState is what a journal's seals say of it.
type IntegrityState int

// The states of a journal's integrity.
const (
	// IntegrityUnsigned: no line is sealed (a journal written before
	// journals were sealed, or without a key).
	IntegrityUnsigned IntegrityState = iota
	// IntegrityVerified: every line is sealed, in one chain, with the key.
	IntegrityVerified
	// IntegrityBroken: a line's seal is missing or does not match: the
	// journal was changed from that line on.
	IntegrityBroken
	// IntegrityOtherKey: the journal is sealed with another key than the
	// one it was checked with (or none was given): it cannot be checked.
	IntegrityOtherKey
)

// Integrity is what a journal's seals say of it (ReadSealedJournal).
type Integrity struct {
	State IntegrityState
	// Event is the position (from 1) of the first event whose seal fails,
	// when State is IntegrityBroken, and Reason says how.
	Event  int
	Reason string
	// KeyID is the key id the journal names; Last the seal of its last
	// line, which a resumed run's appended lines continue from (Seal).
	KeyID string
	Last  string
}

// String says it in words: "verified", "not signed", "broken at event N
// (…)" or "sealed with another key (…)".
func (i Integrity) String() string {
	switch i.State {
	case IntegrityVerified:
		return "verified"
	case IntegrityBroken:
		return fmt.Sprintf("broken at event %d (%s)", i.Event, i.Reason)
	case IntegrityOtherKey:
		return fmt.Sprintf("sealed with another key (key id %s): %s", i.KeyID, i.Reason)
	}
	return "not signed"
}

// ReadSealedJournal reads a journal as ReadJournal does and checks its
// seals with key (nil when none is at hand): the events read are returned
// whatever the seals say, and the integrity says whether they can be
// believed.
func ReadSealedJournal(r io.Reader, key []byte) (events []*Event, integrity Integrity, truncated bool, err error) {
	var v verifier
	v.key = key
	events, truncated, err = readJournal(r, v.check)
	if err == nil && v.state == IntegrityVerified && len(events) == 0 {
		v.state = IntegrityUnsigned
	}
	integrity = Integrity{State: v.state, Event: v.event, Reason: v.reason, KeyID: v.keyID}
	if v.state == IntegrityVerified {
		integrity.Last = hex.EncodeToString(v.prev)
	}
	return events, integrity, truncated, err
}

// verifier checks a journal's seals line by line.
type verifier struct {
	key    []byte
	n      int
	state  IntegrityState
	event  int
	reason string
	keyID  string
	prev   []byte
}

func (v *verifier) check(line []byte, e *Event) {
	v.n++
	if v.n == 1 {
		v.keyID = e.KeyID
		switch {
		case e.Seal == "":
			v.state = IntegrityUnsigned
			return
		case len(v.key) == 0:
			v.state, v.reason = IntegrityOtherKey, "no key to check it with"
			return
		case e.KeyID != JournalKeyID(v.key):
			v.state, v.reason = IntegrityOtherKey, "not the key at hand (key id "+JournalKeyID(v.key)+")"
			return
		}
		v.state = IntegrityVerified
	}
	fail := func(reason string) {
		v.state, v.event, v.reason = IntegrityBroken, v.n, reason
	}
	switch v.state {
	case IntegrityUnsigned:
		if e.Seal != "" || e.KeyID != "" {
			fail("a sealed line in a journal whose first line is not")
		}
		return
	case IntegrityVerified:
	default:
		return // broken or another key: nothing after it can be believed
	}
	if e.Seal == "" {
		fail("the line has no seal")
		return
	}
	if e.KeyID != "" && v.n > 1 {
		fail("a key id after the first line")
		return
	}
	if len(line) < sealLen || !bytes.Equal(line[len(line)-sealLen:len(line)-sealLen+len(sealPrefix)], []byte(sealPrefix)) {
		fail("the seal is not the line's last member")
		return
	}
	body := line[:len(line)-sealLen]
	got, err := hex.DecodeString(string(line[len(line)-sealLen+len(sealPrefix) : len(line)-2]))
	mac := sealOf(v.key, v.prev, body)
	if err != nil || !hmac.Equal(got, mac) {
		fail("its seal does not match: the line, or one before it, was changed, added or removed")
		return
	}
	v.prev = mac
}

// readJournal reads a JSONL journal, calling each (when not nil) with each
// event and its line's bytes, trimmed.
func readJournal(r io.Reader, each func(line []byte, e *Event)) (events []*Event, truncated bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return events, false, fmt.Errorf("journal: %w", rerr)
		}
		complete := rerr == nil // the line ended with its newline
		if b = bytes.TrimSpace(b); len(b) > 0 {
			e := new(Event)
			if err := json.Unmarshal(b, e); err != nil {
				if !complete {
					return events, true, nil
				}
				return events, false, fmt.Errorf("journal line %d: %w", line, err)
			}
			if each != nil {
				each(b, e)
			}
			events = append(events, e)
		}
		if !complete {
			return events, false, nil
		}
	}
}
