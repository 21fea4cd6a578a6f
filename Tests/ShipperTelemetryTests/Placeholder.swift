import Testing

@Test func placeholderShipperTelemetry() { #expect(Bool(true)) }
