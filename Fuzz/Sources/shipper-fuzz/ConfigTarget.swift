import ShipperConfig
import ShipperCore
import ShipperRuntime

/// The config loader, as `shipper validate` and `shipper test-pipeline` use it: YAML text →
/// ``ShipperConfiguration`` → ``RuntimeBuilder/validate(_:)`` (builds every source, stage, parser,
/// output, buffer and telemetry config) → the file's `tests:` cases run through the pipelines.
/// Checks: nothing traps; what is thrown is a ``ConfigError``/``ConfigErrors`` (a message with a
/// position), never a bare decoding error.
enum ConfigTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        // `ConfigLoader.load` refuses files that are not UTF-8 before parsing.
        guard let text = String(validating: data, as: UTF8.self) else { return }
        let config: ShipperConfiguration
        do {
            config = try ConfigLoader.parse(yaml: text, file: "fuzz.yaml")
            try RuntimeBuilder.validate(config)
        } catch {
            checkError(error)
            return
        }
        let report = PipelineTests.run(config: config)
        check(report.passed.count + report.failed.count == config.tests.count, "tests: \(config.tests.count) cases, \(report.passed.count + report.failed.count) reported")
        _ = report.text
    }

    static func checkError(_ error: any Error) {
        let message: String
        if let e = error as? ConfigError {
            message = e.description
        } else if let e = error as? ConfigErrors {
            check(!e.errors.isEmpty, "ConfigErrors without errors")
            message = "\(e)"
        } else {
            failCheck("the config loader threw \(type(of: error)), not a ConfigError: \(error)")
        }
        check(!message.isEmpty, "empty error message")
    }
}
