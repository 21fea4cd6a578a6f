import Testing
@Test func placeholderOutputFileTests() { #expect(true) }
