import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ShipperCore

/// One HTTP request to an Elasticsearch node.
public struct TransportRequest: Sendable {
    public var method: String
    /// Absolute URL.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer?
    /// The whole exchange must finish within this time.
    public var timeout: Duration

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: ByteBuffer? = nil, timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// An HTTP response (body complete; decompressed when it was gzip or deflate encoded).
public struct TransportResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why a request got no HTTP answer.
public enum TransportError: Error, Sendable, CustomStringConvertible {
    case timedOut(Duration)
    case failed(String)

    public var description: String {
        switch self {
        case .timedOut(let d): return "no answer within \(d)"
        case .failed(let s): return s
        }
    }
}

/// Sends HTTP requests. The output uses ``AsyncHTTPTransport``; tests may inject another.
public protocol ElasticsearchTransport: Sendable {
    /// Sends the request; throws ``TransportError`` (or `CancellationError`) when there is no answer.
    func execute(_ request: TransportRequest) async throws -> TransportResponse
    func shutdown() async throws
}

/// AsyncHTTPClient with the output's TLS settings; no redirects; responses up to 256 MiB.
public final class AsyncHTTPTransport: ElasticsearchTransport {
    let client: HTTPClient

    /// - Parameters:
    ///   - tls: the `tls` options.
    ///   - connectTimeout: TCP (and TLS) connect timeout.
    public init(tls: ElasticsearchOutputConfig.TLS, connectTimeout: Duration) throws {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let ca = tls.caFile {
            do {
                tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            } catch {
                throw ConfigValueError("tls.ca_file \(ca): cannot read PEM certificates (\(error))")
            }
        }
        if !tls.verify { tlsConfiguration.certificateVerification = .none }
        if let cert = tls.certFile, let key = tls.keyFile {
            do {
                tlsConfiguration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            } catch {
                throw ConfigValueError("tls.cert_file \(cert): cannot read PEM certificates (\(error))")
            }
            do {
                tlsConfiguration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw ConfigValueError("tls.key_file \(key): cannot read the PEM private key")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tlsConfiguration, redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: TimeAmount(connectTimeout)), decompression: .disabled)
        configuration.httpVersion = .http1Only
        // Fail fast on connect errors: the output retries and fails over to the next host itself
        // (AHC would otherwise hold the request until its deadline while it retries the connection).
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func execute(_ request: TransportRequest) async throws -> TransportResponse {
        var r = HTTPClientRequest(url: request.url)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if let body = request.body { r.body = .bytes(body) }
        let client = self.client
        let timeout = request.timeout
        let prepared = r
        return try await withThrowingTaskGroup(of: TransportResponse?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(prepared, timeout: TimeAmount(timeout))
                    var buffer = try await response.body.collect(upTo: 256 << 20)
                    var body = buffer.readBytes(length: buffer.readableBytes) ?? []
                    let headers = response.headers.map { (name: $0.name, value: $0.value) }
                    if let encoding = response.headers.first(name: "content-encoding")?.lowercased(),
                        encoding == "gzip" || encoding == "deflate" || encoding == "x-gzip", !body.isEmpty
                    {
                        guard let decoded = Inflate.decompress(body) else {
                            throw TransportError.failed("cannot decode the \(encoding) response body")
                        }
                        body = decoded
                    }
                    return TransportResponse(status: Int(response.status.code), headers: headers, body: body)
                } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                    throw TransportError.timedOut(timeout)
                } catch is CancellationError {
                    throw CancellationError()
                } catch let error as TransportError {
                    throw error
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    throw TransportError.failed(AsyncHTTPTransport.explain(error))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw TransportError.timedOut(timeout)
            }
            return response
        }
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// A connection error as a user can act on it: TLS verification failures say what to set.
    static func explain(_ error: any Error) -> String {
        let text = "\(error)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "TLS: the server's certificate is not valid for the host name in the URL (\(extra)): "
                + "use a host name or IP address the certificate lists (subjectAltName) in hosts"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS: the server's certificate could not be verified (CERTIFICATE_VERIFY_FAILED): it is not signed by a CA "
                + "shipper trusts. Set tls.ca_file to the PEM file of the CA that signed it (for Elasticsearch's own CA: "
                + "config/certs/http_ca.crt); tls.verify: false is for tests only"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") {
            return "TLS: the handshake failed (\(text)): does the server speak HTTPS on this port? A plain HTTP server wants an http:// URL"
        }
        return text
    }
}

extension TimeAmount {
    init(_ d: Duration) {
        self = .nanoseconds(Backoff.nanoseconds(d))
    }
}
