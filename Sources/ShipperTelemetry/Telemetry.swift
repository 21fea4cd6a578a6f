import Metrics
import Prometheus

/// The process-wide metrics backend.
public enum Telemetry {
    private static let bootstrapped: PrometheusCollectorRegistry = {
        let current = MetricsSystem.factory
        if let prometheus = current as? PrometheusMetricsFactory {
            // Already bootstrapped (by us, or by the host program) with a Prometheus factory: share it.
            return prometheus.registry
        }
        let registry = PrometheusCollectorRegistry()
        if current is NOOPMetricsHandler {
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        }
        // Otherwise another backend was bootstrapped first; swift-metrics allows only one, so
        // metrics made through `MetricsSystem.factory` go there and this registry stays empty
        // unless metrics are made on it explicitly.
        return registry
    }()

    /// Makes a ``PrometheusCollectorRegistry`` the swift-metrics backend of the process and returns
    /// it, for ``TelemetryServer`` to serve.
    ///
    /// Safe to call any number of times, from any thread: the first call bootstraps
    /// `MetricsSystem` (which swift-metrics allows only once per process), later calls return the
    /// same registry. If the process already bootstrapped a `PrometheusMetricsFactory`, its registry
    /// is returned; if it bootstrapped another backend, the returned registry is not the backend.
    ///
    /// Metrics created before the first call stay no-ops: call this before building components.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        bootstrapped
    }
}
