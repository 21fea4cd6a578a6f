import BufferDisk
import Logging
import ShipperConfig
import ShipperCore
import ShipperTelemetry

/// The `elasticsearch` output driven from the buffer. (Wired to OutputElasticsearch next.)
final class ElasticsearchOutputRunner: OutputRunner, @unchecked Sendable {
    let name: String

    init(name: String, spec: ComponentSpec, dataDir: String, logger: Logger, health: HealthState) throws {
        self.name = name
        throw spec.error("the elasticsearch output is not wired into `shipper run` yet")
    }

    static func validate(spec: ComponentSpec) throws {}

    var attributeFields: [FieldPath] { [] }

    func run(buffer: DiskBuffer) async throws {}
}
