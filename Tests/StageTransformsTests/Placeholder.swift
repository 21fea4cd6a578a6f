import Testing
@Test func placeholderStageTransformsTests() { #expect(true) }
