export { ModelHost } from './host/model-host.js';
export type { LoadOptions, LoadResult, PredictOptions, Outputs, ModelMetadata, MemoryReport, DeployOptions, RolloutResult, RollbackResult, RolloutStats, SyncResult, ModelStats, VersionStats } from './host/model-host.js';
export type { WindowStats, LatencySummary } from './metrics/stats-recorder.js';
export type { ShadowStats } from './registry/shadow-tracker.js';
export type { GuardState } from './registry/rollout-guard.js';
export type { ModelHostOptions, RepositoryOptions, Logger } from './host/host-options.js';
export type { SourceInput } from './host/model-source.js';
export type { ModelOptions, WarmupOptions, ValidationSet, RolloutOptions } from './registry/model-options.js';
export type { ModelStatus } from './registry/named-model.js';
export type { ReadinessOptions, ReadinessReport, ModelReadiness } from './registry/readiness.js';
export type { VersionStatus } from './registry/loaded-version.js';
export type { VersionState } from './registry/version-state.js';
export type { VersionPolicy } from './repository/index.js';
export { ErrorCode, ModelHostError, isModelHostError } from './errors/index.js';
// The one request-id rule (predict/feedback in-process, and every protocol adapter).
export { isRequestId, newRequestId, requestIdProblem } from './host/request-id.js';
// The one version rule (canonical decimal: `2`, not `02`), for every protocol's paths and bodies (DESIGN §10).
export { parseVersion } from './repository/model-name.js';
export type { Tensor, TensorSpec, Signature, DType, TensorData, TypedArray, DeclaredDatatype } from './tensor/index.js';
export { DTYPES, declaredDatatype, dtypeFromKServe, shapeSize, float16BitsToNumber, float32ToFloat16Bits } from './tensor/index.js';
// The per-datatype converters every protocol adapter shares (DESIGN §10: one converter per datatype).
export { ConversionError, decodeBase64, encodeBase64, float16Bits, float16Value, elementWriter, jsonElementText, bytesAsText, bytesOf, fromRawBytes, toRawBytes, rawByteLength, walkNested, allocate } from './tensor/index.js';
export type { BytesElement, ElementWriter, NestedWalk } from './tensor/index.js';
export type { Runtime, Session, ModelSource, RuntimeLoadOptions, RuntimeMemory, WorkerEntry, TfjsSettings, OnnxSettings } from './runtime/index.js';
export type { WorkerMemory } from './runtime/worker/messages.js';
export { tfjsRuntime, onnxRuntime } from './runtime/index.js';
export type * from './metrics/events.js';
export type { Clock } from './scheduler/clock.js';
export { fallbackVersionOf } from './scheduler/answered-by.js';
export type { BatchingOptions, QueueOptions, SchedulerOptions, InstanceOptions } from './scheduler/scheduler-options.js';
export type { PaddingOptions, PaddedInputOptions, PaddedOutputOptions } from './scheduler/padding-options.js';
export type { InstanceInfo } from './registry/loaded-version.js';
// Monitoring: payload sampling sink, drift, live quality, response cache (docs/monitoring.md).
export { JsonlSink, sampleLine } from './monitoring/jsonl-sink.js';
export type { JsonlSinkOptions } from './monitoring/jsonl-sink.js';
export type { SamplingOptions, DriftOptions, FeedbackOptions, CacheOptions } from './monitoring/monitoring-options.js';
export type { MonitoringStats } from './monitoring/model-monitor.js';
export type { DriftStats, GroupStats, DriftVerdict, FeatureDrift } from './monitoring/drift-detector.js';
export type { FeedbackResult, QualityStats } from './monitoring/feedback-store.js';
export { MONITORING_METRICS, monitoringPoints, SINK_METRICS, sampleSinks } from './monitoring/monitoring-metrics.js';
export type { MonitoringMetric, MetricPoint, SampleSinkCounts } from './monitoring/monitoring-metrics.js';
export type { LoadPhase, LoadPhaseDurations } from './registry/load-phases.js';
