// Public API of the metrics area.
export { Metrics, type LiveSources } from './metrics.ts';
export { startMetricsServer, metricsListenSpec, type MetricsServer, type MetricsServerOptions } from './server.ts';
