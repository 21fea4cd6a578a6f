extension LogEvent {
    /// Sets every field of `newFields`, in order: the same fields in the same order as calling
    /// ``set(_:_:)`` for each, but in time linear in the number of fields. (`set` looks at every
    /// field of the event, so setting thousands one by one — a wide JSON object in one log line —
    /// costs quadratic time: 60,000 keys took 15 s.)
    public mutating func set(contentsOf newFields: [Field]) {
        // Few fields: one scan per field is cheaper than the hash tables.
        if newFields.count * (fields.count + newFields.count) <= 4096 || !setManyHashed(newFields) {
            for f in newFields { set(f.path, f.value) }
        }
    }

    /// ``set(contentsOf:)`` with hash tables; false (nothing changed) when the event's fields are
    /// not conflict-free to begin with (a path twice, or a path and one below it), where only the
    /// one-by-one rules say what happens.
    @usableFromInline
    mutating func setManyHashed(_ newFields: [Field]) -> Bool {
        var slots: [Field?] = []
        slots.reserveCapacity(fields.count + newFields.count)
        /// Where each present path is in `slots`.
        var position: [ObjectIdentifier: Int] = [:]
        /// Per path, the slots of paths below it that were present once (some removed since).
        var below: [ObjectIdentifier: [Int]] = [:]

        func register(_ path: FieldPath, at index: Int) {
            position[ObjectIdentifier(path)] = index
            var a = path.parent
            while let p = a {
                below[ObjectIdentifier(p), default: []].append(index)
                a = p.parent
            }
        }
        for f in fields {
            let id = ObjectIdentifier(f.path)
            // Conflicts already: the same path twice, a path below one seen, or above one seen.
            if position[id] != nil || below[id] != nil { return false }
            var a = f.path.parent
            while let p = a {
                if position[ObjectIdentifier(p)] != nil { return false }
                a = p.parent
            }
            slots.append(f)
            register(f.path, at: slots.count - 1)
        }
        for f in newFields {
            let id = ObjectIdentifier(f.path)
            if let i = position[id] {
                // Present: replaced in place (nothing can conflict with it).
                slots[i]!.value = f.value
                continue
            }
            // Ancestors and descendants go; the field is appended.
            var a = f.path.parent
            while let p = a {
                if let i = position.removeValue(forKey: ObjectIdentifier(p)) { slots[i] = nil }
                a = p.parent
            }
            if let indices = below.removeValue(forKey: id) {
                for i in indices {
                    guard let removed = slots[i] else { continue }
                    position[ObjectIdentifier(removed.path)] = nil
                    slots[i] = nil
                }
            }
            slots.append(f)
            register(f.path, at: slots.count - 1)
        }
        fields.removeAll(keepingCapacity: true)
        for case let f? in slots { fields.append(f) }
        return true
    }
}
