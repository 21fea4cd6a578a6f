import Testing

@Test func placeholderBufferDisk() { #expect(Bool(true)) }
