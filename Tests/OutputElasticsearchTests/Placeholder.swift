import Testing

@Test func placeholderOutputElasticsearch() { #expect(Bool(true)) }
