import Foundation
import InputFormats
import ShipperCore
import Testing

@Suite struct AutoDetectTests {
    static let cases: [(String, LogFormat)] = [
        (#"{"log":"x\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#, .docker),
        ("{not even json", .docker),
        ("2016-10-06T00:17:09.669794202Z stdout F log message", .cri),
        ("2016-10-06T00:17:09Z stderr P ", .cri),
        ("2016-10-06T00:17:09Z stdout F", .cri),
        ("2016-10-06T00:17:09Z stdout X message", .raw),
        ("2016-10-06 00:17:09 stdout F message", .raw),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326", .raw),
        (" {\"log\":\"x\"}", .raw),
        ("", .raw),
    ]

    @Test(arguments: cases)
    func detectsFromTheFirstLine(line: String, format: LogFormat) {
        #expect(LogFormat.detect(firstLine: Array(line.utf8)) == format)
        let decoder = makeDecoder(format: .auto, firstLine: Array(line.utf8))
        switch format {
        case .docker: #expect(decoder is DockerJSONDecoder)
        case .cri: #expect(decoder is CRIDecoder)
        default: #expect(decoder is RawDecoder)
        }
    }

    @Test(arguments: [LogFormat.docker, .cri, .raw])
    func explicitFormatIgnoresTheFirstLine(format: LogFormat) {
        let decoder = makeDecoder(format: format, firstLine: Array("2016-10-06T00:17:09Z stdout F x".utf8))
        switch format {
        case .docker: #expect(decoder is DockerJSONDecoder)
        case .cri: #expect(decoder is CRIDecoder)
        default: #expect(decoder is RawDecoder)
        }
    }

    @Test func autoDecodesEachFileInItsOwnFormat() {
        let docker = decodeAll(.auto, text: [#"{"log":"d\n","stream":"stdout"}"#])
        let cri = decodeAll(.auto, text: ["2016-10-06T00:17:09Z stdout F c"])
        let raw = decodeAll(.auto, text: ["r"])
        #expect([docker, cri, raw].map { $0.first?.string(FieldPaths.message) } == ["d", "c", "r"])
    }

    @Test func formatNamesAreTheConfigValues() throws {
        #expect(LogFormat.allCases.map(\.rawValue) == ["auto", "docker", "cri", "raw"])
        let decoded = try JSONDecoder().decode([LogFormat].self, from: Data(#"["auto","docker","cri","raw"]"#.utf8))
        #expect(decoded == LogFormat.allCases)
        #expect(throws: ConfigValueError.self) { try JSONDecoder().decode([LogFormat].self, from: Data(#"["json"]"#.utf8)) }
    }
}
