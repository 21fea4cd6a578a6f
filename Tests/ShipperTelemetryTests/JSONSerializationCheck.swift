import Foundation

/// Parses JSON text with Foundation (tests only), to check that what the server writes is valid.
enum JSONSerializationCheck {
    struct NotAnObject: Error {}

    static func parse(_ text: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw NotAnObject()
        }
        return object
    }
}
