// shipper-campaign: crash, fault, disk and input campaigns against the real `shipper` binary.
//
//   swift build -c release --product shipper && swift build -c release --product shipper-campaign
//   .build/release/shipper-campaign all --short        # what CI runs (a few minutes)
//   .build/release/shipper-campaign crash              # one campaign, long configuration
//
// Each campaign runs `shipper run` as a child process against the Elasticsearch test server
// (in this process, so faults are switched directly and stored documents read back) and a
// Docker-like log directory, then checks by content what arrived. See README.md, "Campaigns".

import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct CommonOptions: ParsableArguments {
    @Flag(help: "The short configuration (CI): fewer kills, shorter faults, less data.")
    var short = false

    @Option(help: "The shipper binary to run (default: the one next to this program, else .build/release/shipper).")
    var shipper: String?

    @Option(help: "Seed of every random decision (kill moments, damaged bytes, poisoned lines).")
    var seed: UInt64 = 1

    @Option(help: "Where campaign directories are made (default: the temporary directory).")
    var workDir: String?

    @Flag(help: "Keep the campaign directories (they are kept anyway when a campaign fails).")
    var keep = false

    var resolved: CampaignOptions {
        CampaignOptions(short: short, shipper: shipper ?? Self.defaultShipper(), seed: seed, workDir: workDir, keep: keep)
    }

    static func defaultShipper() -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let sibling = me.deletingLastPathComponent().appendingPathComponent("shipper").path
        if FileManager.default.isExecutableFile(atPath: sibling), !sibling.contains("/debug/") { return sibling }
        return FileManager.default.currentDirectoryPath + "/.build/release/shipper"
    }
}

/// Runs campaigns one after the other, prints each report, and exits 1 when one failed.
func runCampaigns(_ names: [String], _ options: CampaignOptions) async throws {
    var results: [CampaignResult] = []
    signal(SIGPIPE, SIG_IGN)
    for name in names {
        note("campaign \(name)\(options.short ? " (short)" : "") with \(options.shipper), seed \(options.seed)")
        let result: CampaignResult
        switch name {
        case "crash": result = try await CrashCampaign(options: options).run()
        case "faults": result = try await FaultsCampaign(options: options).run()
        case "disk": result = try await DiskCampaign(options: options).run()
        case "input": result = try await InputCampaign(options: options).run()
        default: throw ValidationError("unknown campaign \(name)")
        }
        result.print(short: options.short)
        results.append(result)
    }
    if results.count > 1 {
        print("\n== summary")
        for r in results {
            print("  \(r.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(r.passed ? "PASS" : "FAIL")  \(String(format: "%4.0f", r.seconds)) s  written \(r.written), indexed \(r.indexed), lost \(r.lost), duplicated \(r.duplicated), dead-lettered \(r.deadLettered)/\(r.expectedDeadLetters), worst latency \(campaignSeconds(r.worstLatency))")
        }
    }
    if !results.allSatisfy(\.passed) { throw ExitCode(1) }
}

struct Crash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "SIGKILL shipper at 100 seeded moments (reads, appends, fsyncs, bulk requests, rotations) while 3 containers write and rotate; 0 lost, 0 duplicated.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await runCampaigns(["crash"], common.resolved) }
}

struct Faults: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Elasticsearch down 60 s, 429 storms, 5xx bursts, slow answers, connection resets, 413s, mapping errors; 0 lost, dead letters = mapping errors, resumes by itself.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await runCampaigns(["faults"], common.resolved) }
}

struct Disk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Buffer volume full, buffer files truncated or bit-flipped, checkpoint file deleted or corrupted; no crash, loss limited to damaged records and reported.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await runCampaigns(["disk"], common.resolved) }
}

struct Input: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fast rename and copytruncate rotation, containers deleted while read, inode reuse, 1 MiB lines, partial chunks across rotation, invalid UTF-8, binary noise.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await runCampaigns(["input"], common.resolved) }
}

struct All: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "crash, faults, disk and input, one after the other.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await runCampaigns(["crash", "faults", "disk", "input"], common.resolved) }
}

@main
struct ShipperCampaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shipper-campaign",
        abstract: "Campaigns that show shipper loses, duplicates and crashes on nothing: checked by content against the Elasticsearch test server.",
        subcommands: [Crash.self, Faults.self, Disk.self, Input.self, All.self])
}

