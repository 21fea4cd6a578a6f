import Foundation
import Logging
import ShipperCore
import Testing

@testable import BufferDisk

/// `max_size` backpressure and the fsync policies.
@Suite struct BackpressureTests {
    let log = LogCapture()

    @Test func appendSuspendsAtMaxSizeUntilAnAcknowledgementFreesSpace() async throws {
        let dir = try TempDir()
        // 4 KiB max, 1 KiB segments (13 records of 78 bytes each).
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<52))  // 4 full segments: 4056 bytes
        #expect(b.stats().bytes == 4056)
        let events = EventLog()
        let appender = Task {
            try await b.append(records(52..<60))
            events.add("appended")
        }
        try await eventually("the append waits for space") { b.stats().appendsWaitingForSpace == 1 }
        // It is suspended on the space condition: it cannot have finished, and wrote nothing.
        #expect(events.all.isEmpty)
        #expect(b.stats().records == 52)
        // And it said so, once.
        #expect(log.messages(.warning).filter { $0.contains("at max_size (4056 of 4096 bytes): reading pauses") }.count == 1)

        // Acknowledging part of the first segment frees nothing: still waiting.
        let few = try #require(try await b.read(reader: "r", maxRecords: 5, maxBytes: 1 << 20))
        try await b.acknowledge(reader: "r", through: few.end)
        #expect(b.stats().appendsWaitingForSpace == 1 && events.all.isEmpty)

        // Acknowledging the whole first segment deletes it, and the append goes on.
        let rest = try #require(try await b.read(reader: "r", maxRecords: 8, maxBytes: 1 << 20))
        #expect(rest.records.map(number) == Array(5..<13))
        events.add("acknowledged")
        try await b.acknowledge(reader: "r", through: rest.end)
        try await appender.value
        #expect(events.all == ["acknowledged", "appended"])
        #expect(b.stats().records == 47)
        #expect(b.stats().bytes <= 4096)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(13..<60))  // nothing dropped
    }

    @Test func diskUseStaysBoundedWithASlowReader() async throws {
        let dir = try TempDir()
        let maxSize = 8192
        let b = try DiskBuffer(config: config(dir, maxSize: maxSize, segmentSize: 1024), readers: ["r"], logger: log.logger)
        let total = 600
        let consumer = Task {
            var got: [Int] = []
            while let batch = try await b.read(reader: "r", maxRecords: 3, maxBytes: 1 << 20) {
                got += batch.records.map(number)
                #expect(b.stats().bytes <= Int64(maxSize))
                try await b.acknowledge(reader: "r", through: batch.end)
            }
            return got
        }
        var maxSeen: Int64 = 0
        for start in stride(from: 0, to: total, by: 10) {
            try await b.append(records(start..<(start + 10)))
            maxSeen = max(maxSeen, b.stats().bytes)
            #expect(b.stats().bytes <= Int64(maxSize))
        }
        try await b.close()
        #expect(try await consumer.value == Array(0..<total))
        #expect(maxSeen > Int64(maxSize / 2))  // the limit was actually reached
        let onDisk = dir.segments().reduce(0) { $0 + dir.size($1) }
        #expect(onDisk <= maxSize)
    }

    @Test func aBatchLargerThanMaxSizeGoesThroughOnceTheBufferIsEmpty() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        // Into an empty buffer: written at once (8 KiB > max_size), across segments.
        try await b.append(records(0..<100, size: 70))
        #expect(b.stats().bytes > 4096)
        // Another one waits until everything is acknowledged.
        let events = EventLog()
        let appender = Task {
            try await b.append(records(100..<150, size: 70))
            events.add("appended")
        }
        try await eventually("the append waits") { b.stats().appendsWaitingForSpace == 1 }
        let (got, end) = try await readRecords(b, "r", count: 99, maxRecords: 50)
        try await b.acknowledge(reader: "r", through: try #require(end))
        #expect(got.count == 99 && events.all.isEmpty && b.stats().appendsWaitingForSpace == 1)
        let last = try #require(try await b.read(reader: "r", maxRecords: 1, maxBytes: 1 << 20))
        events.add("acknowledged all")
        try await b.acknowledge(reader: "r", through: last.end)
        try await appender.value
        #expect(events.all == ["acknowledged all", "appended"])
        // The active segment, fully acknowledged, was dropped to make room.
        #expect(b.stats().records == 50)
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(100..<150))
    }

    @Test func closeFailsAnAppendWaitingForSpace() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<52))
        let appender = Task { try await b.append(records(52..<60)) }
        try await eventually("the append waits") { b.stats().appendsWaitingForSpace == 1 }
        try await b.close()
        await #expect(throws: BufferError.closed) { try await appender.value }
        #expect(b.stats().records == 52)
    }

    @Test func cancellingAnAppendWaitingForSpaceWritesNothing() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<52))
        let appender = Task { try await b.append(records(52..<60)) }
        try await eventually("the append waits") { b.stats().appendsWaitingForSpace == 1 }
        appender.cancel()
        await #expect(throws: CancellationError.self) { try await appender.value }
        // The next append gets the turn once there is space.
        let (_, end) = try await readRecords(b, "r", count: 13, maxRecords: 13)
        try await b.acknowledge(reader: "r", through: try #require(end))
        try await b.append(records(60..<61))
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(13..<52) + [60])
    }

    // MARK: fsync

    @Test func fsyncAlwaysSyncsBeforeAppendReturns() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .always), readers: ["r"], logger: log.logger)
        #expect(b.stats().syncs == 0)
        try await b.append(records(0..<5))
        let s = b.stats()
        #expect(s.syncs >= 1)
        #expect(s.unsyncedBytes == 0)
        try await b.append(records(5..<6))
        #expect(b.stats().syncs >= 2 && b.stats().unsyncedBytes == 0)
        try await b.close()
    }

    @Test func fsyncIntervalAppendWaitsForTheSyncThatCoversIt() async throws {
        let dir = try TempDir()
        // An interval far longer than the test: only the explicit sync() below can release it.
        let b = try DiskBuffer(config: config(dir, fsync: .interval(.seconds(3600))), readers: ["r"], logger: log.logger)
        let events = EventLog()
        let appender = Task {
            try await b.append(records(0..<5))
            events.add("appended")
        }
        try await eventually("the records are written and the append waits for the fsync") {
            b.stats().appendsWaitingForSync == 1
        }
        #expect(b.stats().records == 5)  // written (readers may already read them) ...
        #expect(b.stats().unsyncedBytes == 5 * 78)  // ... but not durable
        #expect(events.all.isEmpty)
        #expect(b.stats().syncs == 0)
        events.add("sync")
        try await b.sync()
        try await appender.value
        #expect(events.all == ["sync", "appended"])
        #expect(b.stats().syncs == 1 && b.stats().unsyncedBytes == 0)
        try await b.close()
    }

    @Test func fsyncIntervalGroupCommitsConcurrentAppendsWithOneSync() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .interval(.seconds(3600))), readers: ["r"], logger: log.logger)
        let appenders = (0..<4).map { i in Task { try await b.append(records((i * 10)..<(i * 10 + 10))) } }
        try await eventually("all four wait for the fsync") { b.stats().appendsWaitingForSync == 4 }
        try await b.sync()
        for a in appenders { try await a.value }
        #expect(b.stats().syncs == 1)
        try await b.close()
    }

    @Test func fsyncIntervalTickerRunsByItself() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .interval(.milliseconds(5))), readers: ["r"], logger: log.logger)
        for i in 0..<3 {
            try await b.append(records((i * 3)..<(i * 3 + 3)))
            #expect(b.stats().unsyncedBytes == 0)
        }
        #expect(b.stats().syncs >= 1)
        try await b.close()
    }

    @Test func closeReleasesAppendsWaitingForTheIntervalSync() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .interval(.seconds(3600))), readers: ["r"], logger: log.logger)
        let appender = Task { try await b.append(records(0..<5)) }
        try await eventually("the append waits for the fsync") { b.stats().appendsWaitingForSync == 1 }
        try await b.close()
        try await appender.value
        #expect(b.stats().syncs == 1 && b.stats().unsyncedBytes == 0)
    }

    @Test func fsyncNeverReturnsAfterTheWrite() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .never), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<50))
        #expect(b.stats().syncs == 0 && b.stats().unsyncedBytes == 0)
        #expect(dir.segments().reduce(0) { $0 + dir.size($1) } == 50 * 78)  // written: visible to other readers of the file
        try await b.close()
        #expect(b.stats().syncs == 0)
    }

    @Test func appendWithoutWaitingThenWaitUntilDurable() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, fsync: .interval(.seconds(3600))), readers: ["r"], logger: log.logger)
        let ticket = try await b.appendWithoutWaitingForSync(records(0..<5))
        #expect(b.stats().unsyncedBytes > 0)
        #expect(!b.isDurable(ticket))
        let second = try await b.appendWithoutWaitingForSync(records(5..<10))
        try await b.sync()
        #expect(b.isDurable(ticket) && b.isDurable(second))
        try await b.waitUntilDurable(ticket)
        try await b.waitUntilDurable(second)
        #expect(b.stats().syncs == 1)
        try await b.close()
    }
}

/// `stopWaitingForRoom()` (shutdown with a full buffer; found by the disk campaign: SIGTERM hung).
@Suite struct StopWaitingForRoomTests {
    let log = LogCapture()

    @Test func aWaitingAppendGivesUpAndLaterOnesDoNotWaitWhileAppendsThatFitGoOn() async throws {
        let dir = try TempDir()
        let b = try DiskBuffer(config: config(dir, maxSize: 4096, segmentSize: 1024), readers: ["r"], logger: log.logger)
        try await b.append(records(0..<52))
        let appender = Task { try await b.append(records(52..<60)) }
        try await eventually("the append waits") { b.stats().appendsWaitingForSpace == 1 }
        b.stopWaitingForRoom()
        await #expect(throws: BufferError.full) { try await appender.value }
        await #expect(throws: BufferError.full) { try await b.append(records(60..<61)) }
        #expect(b.stats().records == 52, "nothing of the refused appends was written")
        // Room again (the reader acknowledged): appends that fit are written.
        let (_, end) = try await readRecords(b, "r", count: 26, maxRecords: 26)
        try await b.acknowledge(reader: "r", through: try #require(end))
        try await b.append(records(61..<62))
        try await b.close()
        #expect(try await drain(b, "r").map(number) == Array(26..<52) + [61])
    }
}
