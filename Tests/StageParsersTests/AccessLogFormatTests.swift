import ShipperCore
import Testing

@testable import StageParsers

/// Unit tests of the engine shared by `nginx_access` and `jetty_request`.
@Suite struct AccessLogFormatTests {
    static let addresses: [(String, IPAddressKind)] = [
        ("77.179.66.156", .publicIP),
        ("8.8.8.8", .publicIP),
        ("10.0.0.1", .privateIP),
        ("172.16.0.1", .privateIP),
        ("172.31.255.255", .privateIP),
        ("172.32.0.1", .publicIP),
        ("192.168.1.1", .privateIP),
        ("127.0.0.1", .privateIP),
        ("169.254.1.1", .privateIP),
        ("100.64.0.1", .privateIP),
        ("100.128.0.1", .publicIP),
        ("0.0.0.0", .privateIP),
        ("255.255.255.255", .publicIP),
        ("256.1.1.1", .notIP),
        ("1.2.3", .notIP),
        ("1.2.3.4.5", .notIP),
        ("1.2.3.4:80", .notIP),
        ("01.2.3.4", .publicIP),
        ("1234.2.3.4", .notIP),
        ("::1", .privateIP),
        ("::", .privateIP),
        ("fe80::1", .privateIP),
        ("fd12:3456::1", .privateIP),
        ("2001:db8::1", .publicIP),
        ("2a03:0000:10ff:f00f:0000:0000:0:8000", .publicIP),
        ("::ffff:10.1.2.3", .privateIP),
        ("::ffff:8.8.8.8", .publicIP),
        ("1:2:3:4:5:6:7:8", .publicIP),
        ("1:2:3:4:5:6:7:8:9", .notIP),
        ("1::2::3", .notIP),
        ("1:2:3", .notIP),
        ("12345::1", .notIP),
        (":1", .notIP),
        ("1:", .notIP),
        ("fe80::1%eth0", .notIP),
        ("[::1]", .notIP),
        ("unknown", .notIP),
        ("cafe", .notIP),
        ("", .notIP),
        ("-", .notIP),
    ]

    @Test(arguments: addresses.map(\.0))
    func classifiesAddresses(_ text: String) {
        let want = Self.addresses.first { $0.0 == text }!.1
        let bytes = Array(text.utf8)
        let got = bytes.withUnsafeBytes { IPAddressClassifier.classify($0, 0, bytes.count) }
        #expect(got == want, "\(text)")
    }

    static let times: [(String, AccessLogTimeLayout, String?)] = [
        ("10/Oct/2000:13:55:36 -0700", .clf, "2000-10-10T20:55:36.000Z"),
        ("10/oct/2000:13:55:36 +0000", .clf, "2000-10-10T13:55:36.000Z"),
        ("10/Oct/2000:13:55:36", .clf, "2000-10-10T13:55:36.000Z"),
        ("29/Feb/2001:00:00:00 +0000", .clf, nil),
        ("10/Oct/2000:24:00:00 +0000", .clf, nil),
        ("10/Oct/2000:13:55:36 +0000 ", .clf, nil),
        ("10/Oct/2000:13:55:36 -07", .clf, "2000-10-10T20:55:36.000Z"),
        ("2000-10-10T13:55:36-07:00", .iso8601, "2000-10-10T20:55:36.000Z"),
        ("2000-10-10T13:55:36.123456Z", .iso8601, "2000-10-10T13:55:36.123456Z"),
        ("2000-10-10 13:55:36+0200", .iso8601, "2000-10-10T11:55:36.000Z"),
        ("2000-10-10T13:55", .iso8601, nil),
        ("1457357111.123", .epochSeconds, "2016-03-07T13:25:11.123Z"),
        ("1457357111", .epochSeconds, "2016-03-07T13:25:11.000Z"),
        ("1457357111.", .epochSeconds, nil),
        ("-1", .epochSeconds, nil),
        ("", .clf, nil),
    ]

    @Test(arguments: times.indices)
    func parsesTimes(_ index: Int) {
        let (text, layout, want) = Self.times[index]
        let bytes = Array(text.utf8)
        let got = bytes.withUnsafeBytes { AccessLogTimeParser.parse($0, 0, bytes.count, layout: layout, zone: .utc) }
        #expect(got?.rfc3339 == want, "\(text)")
    }

    @Test func compilesJavaTimePatterns() throws {
        #expect(try AccessLogTimePattern.compile("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").count == 14)
        #expect(try AccessLogTimePattern.compile("'o''clock' H") == [
            .literal(UInt8(ascii: "o")), .literal(UInt8(ascii: "'")), .literal(UInt8(ascii: "c")),
            .literal(UInt8(ascii: "l")), .literal(UInt8(ascii: "o")), .literal(UInt8(ascii: "c")),
            .literal(UInt8(ascii: "k")), .literal(UInt8(ascii: " ")), .hour(min: 1, max: 2),
        ])
        #expect(throws: ConfigValueError.self) { try AccessLogTimePattern.compile("yyyy 'open") }
        #expect(throws: ConfigValueError.self) { try AccessLogTimePattern.compile("yyyy[-MM]") }
        #expect(throws: ConfigValueError.self) { try AccessLogTimePattern.compile("SSSSSSSSSS") }
        #expect(throws: ConfigValueError.self) { try AccessLogTimePattern.compile("") }
    }

    @Test func durations() {
        func d(_ text: String, _ unit: Int64) -> Int64? {
            let b = Array(text.utf8)
            return b.withUnsafeBytes { AccessLogBytes.duration($0, 0, b.count, unit: unit) }
        }
        #expect(d("0.123", 1_000_000_000) == 123_000_000)
        #expect(d("2", 1_000_000_000) == 2_000_000_000)
        #expect(d("1.5", 1_000_000) == 1_500_000)
        #expect(d("0.0000000019", 1_000_000_000) == 1)
        #expect(d("999999999999", 1_000_000_000) == nil)
        #expect(d("1.", 1_000) == nil)
        #expect(d(".5", 1_000) == nil)
        #expect(d("1,5", 1_000) == nil)
        #expect(d("9999999999999", 1_000) == nil)
    }

    /// The compiled program of the nginx `combined` format: quoted fields, optional tail.
    @Test func combinedProgramShape() throws {
        let program = try NginxAccessFormat.compile(format: "combined", timezone: "UTC")
        let kinds = program.steps.map(\.kind)
        #expect(kinds.filter { $0 == .quotedField }.count == 4)
        #expect(program.fields.map(\.display) == [
            "$remote_addr", "$remote_user", "$time_local", "$request", "$status", "$body_bytes_sent",
            "$http_referer", "$http_user_agent", "$http_x_forwarded_for",
        ])
        #expect(program.tailStart == program.steps.count - 2)
        #expect(program.fallbackStep == program.tailStart - 1)
        #expect(program.roots.map(\.dotted).sorted() == [
            "@timestamp", "http", "nginx", "source", "url", "user", "user_agent",
        ])
    }
}
