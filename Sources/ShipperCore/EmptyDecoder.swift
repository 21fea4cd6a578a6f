/// A decoder for a component written by name only (`parsers: [nginx_access]`): an empty mapping,
/// so every option takes its default.
public struct EmptyMappingDecoder: Decoder {
    public var codingPath: [any CodingKey] = []
    public var userInfo: [CodingUserInfoKey: Any] { [:] }

    public init() {}

    public func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Empty<Key>())
    }

    public func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw ConfigValueError("expected a list, found nothing")
    }

    public func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw ConfigValueError("expected a value, found nothing")
    }

    private struct Empty<Key: CodingKey>: KeyedDecodingContainerProtocol {
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { false }
        func decodeNil(forKey key: Key) throws -> Bool { true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            throw ConfigValueError("missing required key '\(key.stringValue)'")
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { nil }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            throw ConfigValueError("missing required key '\(key.stringValue)'")
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw ConfigValueError("missing required key '\(key.stringValue)'")
        }
        func superDecoder() throws -> any Decoder { EmptyMappingDecoder() }
        func superDecoder(forKey key: Key) throws -> any Decoder { EmptyMappingDecoder() }
    }
}
