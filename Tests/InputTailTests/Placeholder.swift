import Testing

@Test func placeholderInputTail() { #expect(Bool(true)) }
