// The libFuzzer entry point. One executable serves every target; `FUZZ_TARGET` picks one (see
// `Fuzz/run.sh` and README.md, "Fuzzing"). Each target feeds the bytes to one component and checks
// what the component promises beyond "does not crash": see the target's doc comment.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A fuzz target: a name (the corpus directory under `Fuzz/corpus/`) and the function that takes one input.
struct FuzzTarget {
    let name: String
    let summary: String
    let run: (UnsafeRawBufferPointer) -> Void
}

enum Targets {
    /// Every target, in the order of the README table.
    nonisolated(unsafe) static let all: [FuzzTarget] = [
        FuzzTarget(name: "docker", summary: "docker json-file decoder, lines and partial chunks", run: DecoderTargets.docker),
        FuzzTarget(name: "cri", summary: "CRI decoder, P/F chunks", run: DecoderTargets.cri),
        FuzzTarget(name: "auto", summary: "auto-detected decoder (docker, cri or raw)", run: DecoderTargets.auto),
        FuzzTarget(name: "nginx_access", summary: "nginx_access: combined, main and a custom log_format", run: ParserTargets.nginxAccess),
        FuzzTarget(name: "nginx_error", summary: "nginx_error", run: ParserTargets.nginxError),
        FuzzTarget(name: "jetty_request", summary: "jetty_request: ncsa and a CustomRequestLog format", run: ParserTargets.jettyRequest),
        FuzzTarget(name: "jetty_server", summary: "jetty_server", run: ParserTargets.jettyServer),
        FuzzTarget(name: "json", summary: "json parser (root and a target field)", run: ParserTargets.json),
        FuzzTarget(name: "regex", summary: "regex parser (typed named groups)", run: ParserTargets.regex),
        FuzzTarget(name: "multiline", summary: "multiline stage: java (default and tight limits), start: timestamp", run: StageTargets.multiline),
        FuzzTarget(name: "timestamp", summary: "timestamp stage and time formats (fuzzed format strings too)", run: StageTargets.timestamp),
        FuzzTarget(name: "json_scanner", summary: "JSONScanner against an independent RFC 8259 checker", run: JSONTargets.scanner),
        FuzzTarget(name: "json_roundtrip", summary: "parsed event → JSONWriter/EventEncoder → re-scanned", run: JSONTargets.roundTrip),
        FuzzTarget(name: "config", summary: "YAML → ShipperConfiguration → RuntimeBuilder.validate → tests: cases", run: ConfigTarget.run),
        FuzzTarget(name: "buffer", summary: "DiskBuffer recovery of damaged segment files and ledgers", run: BufferTarget.run),
    ]

    /// The target named by `FUZZ_TARGET`; exits with the list of names when it is missing or unknown.
    nonisolated(unsafe) static let selected: FuzzTarget = {
        let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
        if let t = all.first(where: { $0.name == name }) { return t }
        var text = name.isEmpty ? "FUZZ_TARGET is not set.\n" : "FUZZ_TARGET '\(name)' is not a target.\n"
        text += "Targets:\n"
        for t in all { text += "  \(t.name)\(String(repeating: " ", count: max(1, 16 - t.name.count)))\(t.summary)\n" }
        writeStandardError(text)
        exit(2)
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Targets.selected.run(UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size))
    return 0
}
