import CZlib
import Foundation

/// Reads IDX files (the MNIST format), gzip-compressed or raw: zlib's gzread passes raw files
/// through unchanged.
///
/// Layout: magic `00 00 TT DD` (TT = 0x08 unsigned bytes, DD = number of dimensions), then DD
/// big-endian UInt32 sizes, then the data.
public enum IDXReader {
    public struct Array: Sendable {
        public var dimensions: [Int]
        public var bytes: [UInt8]
    }

    /// What a scan found: the header's dimensions and the largest data byte (nil without data).
    public struct Summary: Sendable, Equatable {
        public var dimensions: [Int]
        public var maximum: UInt8?
    }

    public static func read(_ path: String) throws(DatasetError) -> Array {
        var bytes: [UInt8] = []
        // Reserve what the header promises, up to 256 MB: a hostile header may promise 8 GB.
        let summary = try scan(path, reserve: { bytes.reserveCapacity(min($0, 1 << 28)) }) { bytes.append(contentsOf: $0) }
        return Array(dimensions: summary.dimensions, bytes: bytes)
    }

    /// Checks the header and that the data is all there, streaming it (the decompressed length
    /// for gzip) without holding it; with `maximum`, also finds the largest byte (for labels).
    public static func inspect(_ path: String, maximum: Bool = false) throws(DatasetError) -> Summary {
        var largest: UInt8? = nil
        guard maximum else { return try scan(path) { _ in } }
        var summary = try scan(path) { chunk in
            if let m = chunk.max() { largest = max(largest ?? 0, m) }
        }
        summary.maximum = largest
        return summary
    }

    /// Streams `path` once: validates the header as soon as it is read, passes the promised data
    /// to `body` in chunks, and checks at the end that gzip found no error and nothing is missing.
    /// Bytes past the promised data are an error, found at the first one.
    static func scan(_ path: String, reserve: (Int) -> Void = { _ in },
                     _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(DatasetError) -> Summary {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(file: path, problem: "no such file",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or point dataset.path at a folder of IDX files")
        }
        guard let file = gzopen(path, "rb") else { throw DatasetError(file: path, problem: "cannot be opened") }
        defer { gzclose(file) }
        var header: [UInt8] = []
        var dimensions: [Int]? = nil
        var expected = 0, available = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 {
                let (_, message) = gzipError(file, path)
                throw DatasetError(file: path, problem: "corrupt gzip data (\(message))")
            }
            if count == 0 {
                let (code, message) = gzipError(file, path)
                if code == Z_BUF_ERROR { throw DatasetError(file: path, problem: "the gzip stream ends early (\(message))", hint: "download or reinstall the file") }
                if code != Z_OK { throw DatasetError(file: path, problem: "corrupt gzip data (\(message))") }
                break
            }
            var start = 0
            if dimensions == nil {
                let take = min(Int(count), max(4, 4 + 4 * Int(header.count >= 4 ? header[3] : 0)) - header.count)
                header += chunk[0..<take]
                start = take
                if header.count >= 4 {
                    try checkMagic(header, path)
                    let headerSize = 4 + 4 * Int(header[3])
                    if header.count < headerSize {
                        let more = min(Int(count) - start, headerSize - header.count)
                        header += chunk[start..<(start + more)]
                        start += more
                    }
                    if header.count == headerSize {
                        let parsed = try parseDimensions(header, path)
                        dimensions = parsed.dimensions
                        expected = parsed.expected
                        reserve(expected)
                    }
                }
            }
            if dimensions != nil {
                let useful = min(Int(count) - start, expected - available)
                if useful > 0 { chunk.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<(start + useful)])) } }
                available += Int(count) - start
                // Stop at the first byte too many: a gzip stream of junk after the data is not read through.
                if available > expected {
                    throw DatasetError(file: path, problem: "holds more than the \(expected) bytes of data its header promises (\(dimensions.map { $0.map(String.init).joined(separator: "×") } ?? "")): not an IDX file of that shape, or two files run together",
                                       hint: "download or reinstall the file")
                }
            }
        }
        guard header.count >= 4 else { throw DatasetError(file: path, problem: "truncated: \(header.count) bytes, not even an IDX header") }
        guard let dimensions else { throw DatasetError(file: path, problem: "truncated inside the header") }
        guard available >= expected else {
            throw DatasetError(file: path, problem: "truncated: the header promises \(expected) bytes of data (\(dimensions.map(String.init).joined(separator: "×"))), the file holds \(available)",
                               hint: "download or reinstall the file")
        }
        return Summary(dimensions: dimensions)
    }

    /// zlib's error code and message, without the path it puts in front.
    private static func gzipError(_ file: gzFile, _ path: String) -> (Int32, String) {
        var code: Int32 = 0
        var message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
        return (code, message)
    }

    private static func checkMagic(_ header: [UInt8], _ path: String) throws(DatasetError) {
        guard header[0] == 0, header[1] == 0, header[2] == 0x08 else {
            let magic = header.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw DatasetError(file: path, problem: "not an IDX file of unsigned bytes (magic \(magic), expected 00 00 08 0N)")
        }
        let rank = Int(header[3])
        guard rank >= 1, rank <= 4 else { throw DatasetError(file: path, problem: "IDX rank \(rank) is not 1…4") }
    }

    /// The big-endian sizes and their product, refused when it overflows or exceeds what an
    /// IDX file can hold.
    private static func parseDimensions(_ header: [UInt8], _ path: String) throws(DatasetError) -> (dimensions: [Int], expected: Int) {
        let dimensions = (0..<Int(header[3])).map { d in
            (0..<4).reduce(0) { ($0 << 8) | Int(header[4 + 4 * d + $1]) }
        }
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) * 4 else {
                throw DatasetError(file: path, problem: "the header's sizes (\(dimensions.map(String.init).joined(separator: "×"))) are impossible for an IDX file")
            }
            expected = product
        }
        return (dimensions, expected)
    }
}
