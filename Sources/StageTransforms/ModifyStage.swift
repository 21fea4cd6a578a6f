import ShipperCore

/// Options of the `modify` stage. Operations run in this order: `rename`, `copy`, `set`,
/// `remove`, `add_tags`.
///
/// ```yaml
/// - type: modify
///   rename: {log: message}                     # from: to (a missing source is skipped)
///   copy: {service.name: event.dataset}        # from: to
///   set:                                       # field: value (text, number, boolean, mapping)
///     event.module: nginx
///     labels.site: "%{container.name}-web"     # %{field} is replaced by the field's value
///   remove: [agent, stream]                    # also removes everything below a path
///   add_tags: [web]
/// ```
public struct ModifyConfig: Decodable, Sendable {
    public var rename: OrderedPairs = OrderedPairs()
    public var copy: OrderedPairs = OrderedPairs()
    public var set: [(path: String, value: JSONValue)] = []
    public var remove: [String] = []
    public var addTags: [String] = []

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rename, copy, set, remove
        case addTags = "add_tags"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rename = try c.decodeIfPresent(OrderedPairs.self, forKey: .rename) ?? OrderedPairs()
        copy = try c.decodeIfPresent(OrderedPairs.self, forKey: .copy) ?? OrderedPairs()
        if let value = try c.decodeIfPresent(JSONValue.self, forKey: .set) {
            guard case .object(let members) = value else { throw ConfigValueError("'set' must be a mapping of field: value") }
            set = members.map { ($0.key, $0.value) }
        }
        remove = try c.decodeIfPresent([String].self, forKey: .remove) ?? []
        addTags = try c.decodeIfPresent([String].self, forKey: .addTags) ?? []
        if rename.pairs.isEmpty && copy.pairs.isEmpty && set.isEmpty && remove.isEmpty && addTags.isEmpty {
            throw ConfigValueError("a modify stage needs at least one of: rename, copy, set, remove, add_tags")
        }
    }
}

/// A mapping of field path to field path, in file order.
public struct OrderedPairs: Decodable, Sendable {
    public var pairs: [(from: String, to: String)] = []

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        pairs = try c.allKeys.map { ($0.stringValue, try c.decode(String.self, forKey: $0)) }
    }
}

/// Renames, copies, sets and removes fields.
public struct ModifyStage: Stage {
    enum SetValue {
        case constant(JSONValue)
        case template(FieldTemplate)
    }

    let rename: [(FieldPath, FieldPath)]
    let copy: [(FieldPath, FieldPath)]
    let set: [(FieldPath, SetValue)]
    let remove: [FieldPath]
    let addTags: [String]

    public init(config: ModifyConfig) throws {
        rename = config.rename.pairs.map { (FieldPath.intern($0.from), FieldPath.intern($0.to)) }
        copy = config.copy.pairs.map { (FieldPath.intern($0.from), FieldPath.intern($0.to)) }
        set = try config.set.map { item in
            let path = FieldPath.intern(item.path)
            if case .string(let s) = item.value, s.contains("%{") {
                return (path, .template(try FieldTemplate(s)))
            }
            return (path, .constant(item.value))
        }
        remove = config.remove.map { FieldPath.intern($0) }
        addTags = config.addTags
    }

    public func process(_ event: consuming LogEvent, into output: inout [LogEvent]) {
        apply(&event)
        output.append(consume event)
    }

    public func apply(_ event: inout LogEvent) {
        for (from, to) in rename where from != to {
            let moved = event.subtree(from)
            guard !moved.isEmpty else { continue }
            event.remove(from)
            for field in moved {
                event.set(Self.rebase(field.path, from: from, to: to), field.value)
            }
        }
        for (from, to) in copy {
            for field in event.subtree(from) {
                event.set(Self.rebase(field.path, from: from, to: to), field.value)
            }
        }
        for (path, value) in set {
            switch value {
            case .constant(let json):
                event.set(path, json: json)
            case .template(let template):
                var bytes: [UInt8] = []
                template.render(event, into: &bytes)
                event.set(path, string: bytes)
            }
        }
        for path in remove { event.remove(path) }
        for tag in addTags { event.addTag(tag) }
    }

    static func rebase(_ path: FieldPath, from: FieldPath, to: FieldPath) -> FieldPath {
        if path == from { return to }
        return FieldPath.intern(to.dotted + path.dotted.dropFirst(from.dotted.count))
    }
}
