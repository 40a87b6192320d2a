package telemetry_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a loopback OTLP/HTTP trace receiver: it decodes each POST to
// /v1/traces and keeps the span names and the service names.
type receiver struct {
	mu       sync.Mutex
	spans    []string
	services []string
	posts    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.posts++
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				rc.services = append(rc.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				rc.spans = append(rc.spans, s.GetName())
			}
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestSpansReachAnOTLPReceiver points FromEnv at a loopback receiver through
// the standard variables and checks the run's spans arrive there.
func TestSpansReachAnOTLPReceiver(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_SERVICE_NAME", "entrust-test")

	sink, shutdown, err := telemetry.FromEnv(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sink == nil {
		t.Fatal("FromEnv returned no sink with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	rt, err := orchestrator.New(twoWorkers(t), &orchestrator.Options{Sinks: []orchestrator.Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(t.Context(), leadGoal); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, want := range []string{"entrust.run", "invoke_agent lead", "invoke_agent w1", "invoke_agent w2",
		"chat lead-model", "chat w1-model", "execute_tool note", "execute_tool delegate"} {
		if !slices.Contains(rc.spans, want) {
			t.Errorf("the receiver got no span %q; got %v", want, rc.spans)
		}
	}
	if len(rc.services) == 0 || rc.services[0] != "entrust-test" {
		t.Errorf("service.name %v, want entrust-test (OTEL_SERVICE_NAME)", rc.services)
	}
	t.Logf("%d spans in %d posts", len(rc.spans), rc.posts)
}

func TestFromEnvOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  bool
	}{
		{"unset", nil, false},
		{"disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
				"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
				t.Setenv(k, tc.env[k])
			}
			sink, shutdown, err := telemetry.FromEnv(t.Context())
			if (err != nil) != tc.err || sink != nil || shutdown == nil {
				t.Fatalf("FromEnv = %v, shutdown nil: %v, %v; want no sink, a shutdown, error %v", sink, shutdown == nil, err, tc.err)
			}
			if err := shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFromEnvServiceNameDefault(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv.URL+"/v1/traces")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	sink, shutdown, err := telemetry.FromEnv(t.Context())
	if err != nil || sink == nil {
		t.Fatalf("FromEnv: %v, %v", sink, err)
	}
	t0 := time.Now()
	_ = sink.Emit(context.Background(), &orchestrator.Event{Seq: 1, Run: "r", Type: orchestrator.EventRunStarted, Time: t0})
	_ = sink.Emit(context.Background(), &orchestrator.Event{Seq: 2, Run: "r", Type: orchestrator.EventRunFinished, Time: t0, Status: orchestrator.StatusCompleted})
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.services) == 0 || rc.services[0] != telemetry.ServiceName {
		t.Errorf("service.name %v, want %q", rc.services, telemetry.ServiceName)
	}
}
