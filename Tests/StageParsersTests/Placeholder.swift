import Testing
@Test func placeholderStageParsersTests() { #expect(true) }
