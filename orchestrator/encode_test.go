package orchestrator_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// checkEncoding fails t unless the journal's encoder writes e as
// encoding/json does, byte for byte, or leaves to encoding/json an event
// that encoding/json cannot write either.
func checkEncoding(t *testing.T, e *orchestrator.Event) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	werr := enc.Encode(e)
	got, ok := orchestrator.EncodeEvent(e)
	switch {
	case !ok && werr == nil:
		t.Errorf("left to encoding/json, which writes it: %s", want.Bytes())
	case ok && werr != nil:
		t.Errorf("encoded %s, where encoding/json fails: %v", got, werr)
	case ok && !bytes.Equal(append(got, '\n'), want.Bytes()):
		t.Errorf("encoded\n%s\nencoding/json\n%s", got, want.Bytes())
	}
}

var (
	sampleStrings = []string{"plain", "", "quote\" back\\ nl\n tab\t cr\r bs\b ff\f nul\x00 ctl\x1f del\x7f <&>",
		"é 中 \u2028\u2029 emoji 😀", "bad \xff\xfe\xc3 end", "\xe2\x80", "</script>"}
	sampleFloats = []float64{1.5, 1e-7, 2.5e21, 123.456, -0.001, 1e20, 0.000001, 3}
	sampleTimes  = []time.Time{time.Date(2026, 11, 29, 16, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 5*3600+1800)),
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("y", -(3*3600+30*60+7))), {}}
	sampleRaw = []json.RawMessage{json.RawMessage(`{"a":[1,2],"b":"x y"}`), json.RawMessage(" { \"a\" : [ 1 , \"s p\\\" \" ] }\n"),
		json.RawMessage(`"a string"`), json.RawMessage(`null`), json.RawMessage(`[]`)}
	rawType  = reflect.TypeFor[json.RawMessage]()
	timeType = reflect.TypeFor[time.Time]()
)

// fill sets every exported field of v, recursively, to the k-th sample of
// its kind.
func fill(v reflect.Value, k, depth int) {
	if depth > 5 {
		return
	}
	switch {
	case v.Type() == rawType:
		v.SetBytes(sampleRaw[k%len(sampleRaw)])
		return
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(sampleTimes[k%len(sampleTimes)]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(sampleStrings[k%len(sampleStrings)])
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(k*7 - 3))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(k * 7))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(sampleFloats[k%len(sampleFloats)])
	case reflect.Bool:
		v.SetBool(k%3 != 1)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), k, depth+1)
		v.Set(p)
	case reflect.Slice:
		n := k%3 + 1
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(s.Index(i), k+i, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		key, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(key, k, depth+1)
		fill(val, k, depth+1)
		m.SetMapIndex(key, val)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), k+i, depth+1)
			}
		}
	}
}

// The journal writes every event as encoding/json would: each field of Event
// alone and all together (a field added to Event and not to the encoder
// fails here), with strings that need escaping, numbers of every form,
// times in other zones, arguments written with white space.
func TestEventEncoding(t *testing.T) {
	checkEncoding(t, &orchestrator.Event{})
	typ := reflect.TypeFor[orchestrator.Event]()
	for k := range 2 * len(sampleStrings) {
		all := &orchestrator.Event{}
		fill(reflect.ValueOf(all).Elem(), k, 0)
		checkEncoding(t, all)
		for i := range typ.NumField() {
			e := &orchestrator.Event{}
			fill(reflect.ValueOf(e).Elem().Field(i), k, 0)
			checkEncoding(t, e)
		}
	}
	// Every byte, and a rune of two and of three bytes, at every place of a
	// string: the encoder reads strings eight bytes at a time.
	for i := range 17 {
		for _, r := range append([]string{"é", "\u2028"}, func() (all []string) {
			for c := range 256 {
				all = append(all, string([]byte{byte(c)}))
			}
			return all
		}()...) {
			s := "abcdefghijklmnopq"
			checkEncoding(t, &orchestrator.Event{Result: s[:i] + r + s[i:]})
		}
	}
	// What encoding/json cannot write, neither does the journal.
	for _, e := range []*orchestrator.Event{
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("z", 24*3600))},
		{LatencyMS: 1 / zero()},
		{Arguments: json.RawMessage(`{"a":`)},
		{Message: &model.Message{ToolCalls: []model.ToolCall{{Arguments: json.RawMessage(`nope`)}}}},
		{Message: &model.Message{ToolCalls: []model.ToolCall{{}}}},
	} {
		checkEncoding(t, e)
	}
	// A real run's events.
	f, err := os.Open("../cmd/run/testdata/haiku.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, _, err := orchestrator.ReadJournal(f)
	if err != nil || len(events) == 0 {
		t.Fatalf("%d events: %v", len(events), err)
	}
	for _, e := range events {
		checkEncoding(t, e)
	}
}

func zero() float64 { return 0 }

// FuzzEventEncoding: whatever a model writes, the journal's line is the one
// encoding/json would write.
func FuzzEventEncoding(f *testing.F) {
	f.Add("plain", 1.5, []byte(`{"a": 1}`))
	f.Add("\xff\u2028\x00\"\\", 1e-9, []byte(" [ \"\\\" \" ] "))
	f.Fuzz(func(t *testing.T, s string, x float64, raw []byte) {
		e := &orchestrator.Event{Type: orchestrator.EventModelCalled, Result: s, Reason: s, Tools: []string{s}, LatencyMS: x,
			Arguments: raw, Config: raw, Message: &model.Message{Content: s, ToolCalls: []model.ToolCall{{ID: s, Arguments: raw}}},
			Time: time.Unix(0, int64(x)).UTC()}
		checkEncoding(t, e)
	})
}
