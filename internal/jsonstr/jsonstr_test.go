package jsonstr_test

import (
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/internal/jsonstr"
)

func TestMap(t *testing.T) {
	up := func(s string) string { return strings.ToUpper(s) }
	out, changed, err := jsonstr.Map([]byte(`{"a":"x","b":["y",1,{"c":"z"}],"d":true}`), up)
	if err != nil || !changed || string(out) != `{"a":"X","b":["Y",1,{"c":"Z"}],"d":true}` {
		t.Fatalf("Map = %s, %v, %v", out, changed, err)
	}
	in := []byte(`{"b": 1,  "a": "X"}`)
	if out, changed, err := jsonstr.Map(in, up); err != nil || changed || string(out) != string(in) {
		t.Fatalf("unchanged: %s, %v, %v; want the input as it was", out, changed, err)
	}
	if _, _, err := jsonstr.Map([]byte(`{"a":`), up); err == nil {
		t.Fatal("broken JSON: no error")
	}
}
