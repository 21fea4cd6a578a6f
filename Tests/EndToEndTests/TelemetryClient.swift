import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP answer of shipper's telemetry endpoint.
struct HTTPAnswer {
    var status: Int
    var body: String
}

/// A plain HTTP/1.1 GET over a POSIX socket to 127.0.0.1 (no FoundationNetworking): sends
/// `Connection: close` and reads to the end. Returns nil when nothing answers within `timeout`.
func httpGet(port: Int, path: String, timeout: Int = 5) -> HTTPAnswer? {
    #if canImport(Darwin)
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #else
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #endif
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port)).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        sent += n
    }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        data.append(contentsOf: chunk[0..<n])
    }
    let text = String(decoding: data, as: UTF8.self)
    guard text.hasPrefix("HTTP/1."), text.count >= 12, let status = Int(text.dropFirst(9).prefix(3)) else { return nil }
    let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return HTTPAnswer(status: status, body: body)
}

/// The telemetry port shipper logged (`telemetry: serving /metrics and /health on HOST:PORT`),
/// once it has.
func telemetryPort(_ shipper: ShipperProcess, timeout: TimeInterval = 60) async -> Int? {
    var port: Int?
    _ = await eventually(timeout: timeout) {
        let text = shipper.stderr
        guard let r = text.range(of: "telemetry: serving /metrics and /health on ") else { return false }
        let rest = text[r.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return false }
        let digits = rest[rest.index(after: colon)...].prefix { $0.isNumber }
        port = Int(digits)
        return port != nil
    }
    return port
}

/// Samples of a Prometheus text exposition.
struct MetricsPage {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = String(series[..<brace])
                let inner = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                // label="value" pairs; the values in these tests have no quotes or commas.
                for pair in inner.split(separator: ",") {
                    guard let eq = pair.firstIndex(of: "=") else { continue }
                    labels[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    /// The sum of the samples named `name` whose labels include `labels`; nil when there is none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// A component's value (`component_id`), plus other labels.
    func value(_ name: String, component: String, _ labels: [String: String] = [:]) -> Double? {
        value(name, labels.merging(["component_id": component]) { a, _ in a })
    }
}

/// Scrapes `/metrics`.
func scrapeMetrics(port: Int) -> MetricsPage? {
    guard let answer = httpGet(port: port, path: "/metrics"), answer.status == 200 else { return nil }
    return MetricsPage(answer.body)
}
