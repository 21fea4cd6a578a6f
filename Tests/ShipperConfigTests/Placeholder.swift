import Testing
@Test func placeholderShipperConfigTests() { #expect(true) }
