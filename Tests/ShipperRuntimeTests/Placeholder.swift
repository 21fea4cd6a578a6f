import Testing
@Test func placeholderShipperRuntimeTests() { #expect(true) }
