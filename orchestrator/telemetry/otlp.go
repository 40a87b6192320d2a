package telemetry

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/entrust-dev/entrust/orchestrator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ServiceName is the service.name of the traces FromEnv exports, unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says
// otherwise.
const ServiceName = "entrust"

// FromEnv returns a Tracer exporting over OTLP/HTTP when the environment asks
// for traces: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set, OTEL_SDK_DISABLED is not "true" and OTEL_TRACES_EXPORTER is not
// "none". Otherwise sink is nil and tracing is off: register no sink and it
// costs nothing. The protocol is http/protobuf; asking for another through
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL is an error. The exporter reads
// the standard OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS,
// compression); spans go through a batch span processor (OTEL_BSP_*); the
// resource has service.name "entrust", overridden by OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES. shutdown is never nil: call it when the run is
// over, with a context that bounds the final flush.
func FromEnv(ctx context.Context) (sink orchestrator.Sink, shutdown func(context.Context) error, err error) {
	off := func(context.Context) error { return nil }
	env := func(k string) string { return strings.ToLower(strings.TrimSpace(os.Getenv(k))) }
	if env("OTEL_SDK_DISABLED") == "true" || env("OTEL_TRACES_EXPORTER") == "none" ||
		(env("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return nil, off, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := env(k); p != "" {
			if p != "http/protobuf" {
				return nil, off, fmt.Errorf("telemetry: %s=%s: only http/protobuf is supported", k, p)
			}
			break // the traces-specific setting wins
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, off, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, off, fmt.Errorf("telemetry: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return NewTracer(tp), tp.Shutdown, nil
}
