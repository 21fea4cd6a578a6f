import Testing
@Test func placeholderInputFormatsTests() { #expect(true) }
