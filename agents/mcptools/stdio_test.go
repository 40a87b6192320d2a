//go:build unix

package mcptools_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/internal/mcptest"
)

func TestStdioServer(t *testing.T) {
	t.Setenv("ENTRUST_TEST_SECRET", "sk-do-not-leak")
	conn, tools := connect(t, mcptools.Server{Name: "proc", Command: []string{serverBin},
		Env: map[string]string{"GREETING": "hello from env"}})
	if res := call(t, tools["proc__getenv"], `{"name":"GREETING"}`); res.Content != "hello from env" {
		t.Errorf("env GREETING = %+v", res)
	}
	if res := call(t, tools["proc__getenv"], `{"name":"ENTRUST_TEST_SECRET"}`); res.Content != "(unset)" {
		t.Errorf("the server inherited this process's secret: %+v", res)
	}
	if res := call(t, tools["proc__getenv"], `{"name":"PATH"}`); res.Content == "(unset)" {
		t.Errorf("the server has no PATH")
	}
	if res := call(t, tools["proc__fail"], `{}`); !res.IsError || !strings.Contains(res.Content, "on purpose") {
		t.Errorf("fail = %+v", res)
	}

	// It dies during a call that is not idempotent: the effect is unknown,
	// the server is restarted, and the next call works.
	res := call(t, tools["proc__crash"], `{}`)
	if !res.IsError || !strings.Contains(res.Content, "whether it took effect is unknown") {
		t.Fatalf("crash = %+v", res)
	}
	pid := call(t, tools["proc__pid"], `{}`)
	if pid.IsError {
		t.Fatalf("pid after the restart = %+v", pid)
	}
	// It dies again: no second restart, a clear error naming why.
	res = call(t, tools["proc__crash"], `{}`)
	res = call(t, tools["proc__echo"], `{"text":"x"}`)
	if !res.IsError || !strings.Contains(res.Content, "after its one restart") || !strings.Contains(res.Content, "exit status 3") ||
		!strings.Contains(res.Content, "crashing on purpose") {
		t.Fatalf("echo after the second crash = %+v", res)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	n, _ := strconv.Atoi(pid.Content)
	if mcptest.Alive(n) {
		t.Errorf("the restarted server (pid %d) is still running after Close", n)
	}
}

func TestCloseStopsTheProcess(t *testing.T) {
	conn, tools := connect(t, mcptools.Server{Name: "proc", Command: []string{serverBin}})
	n, _ := strconv.Atoi(call(t, tools["proc__pid"], `{}`).Content)
	if !mcptest.Alive(n) {
		t.Fatalf("server pid %d is not running", n)
	}
	conn.Close()
	if mcptest.Alive(n) {
		t.Errorf("server %d still running after Close", n)
	}
	if res := call(t, tools["proc__echo"], `{"text":"x"}`); !res.IsError || !strings.Contains(res.Content, "closed") {
		t.Errorf("call after Close = %+v", res)
	}
}

func TestAKilledServerIsRestartedForAnIdempotentCall(t *testing.T) {
	_, tools := connect(t, mcptools.Server{Name: "proc", Command: []string{serverBin}, HintedTools: []string{"echo"}})
	n, _ := strconv.Atoi(call(t, tools["proc__pid"], `{}`).Content)
	syscall.Kill(n, syscall.SIGKILL)
	// Whether the death is seen before or during this call, echo may be
	// made again: it succeeds on the restarted server.
	if res := call(t, tools["proc__echo"], `{"text":"back"}`); res.IsError || res.Content != "back" {
		t.Fatalf("echo after kill = %+v", res)
	}
}

// Close also ends what the server started: its process group goes.
func TestCloseEndsTheServersChildren(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	conn, _ := connect(t, mcptools.Server{Name: "proc", Command: []string{"sh", "-c", `sleep 60 & echo $! > "$PIDFILE"; exec "$SERVER"`},
		Env: map[string]string{"PIDFILE": pidfile, "SERVER": serverBin}})
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !mcptest.Alive(child) {
		t.Fatalf("the server's child %d is not running", child)
	}
	conn.Close()
	// The signal is sent; the kernel takes a moment to end the process.
	for deadline := time.Now().Add(5 * time.Second); mcptest.Alive(child) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if mcptest.Alive(child) {
		t.Errorf("the server's child %d outlived Close", child)
	}
}
