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

    public static func read(_ path: String) throws(DatasetError) -> Array {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(file: path, problem: "no such file",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or point dataset.path at a folder of IDX files")
        }
        let data = try decompress(path)
        guard data.count >= 4 else { throw DatasetError(file: path, problem: "truncated: \(data.count) bytes, not even an IDX header") }
        guard data[0] == 0, data[1] == 0, data[2] == 0x08 else {
            let magic = data.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw DatasetError(file: path, problem: "not an IDX file of unsigned bytes (magic \(magic), expected 00 00 08 0N)")
        }
        let rank = Int(data[3])
        let headerSize = 4 + 4 * rank
        guard rank >= 1, rank <= 4 else { throw DatasetError(file: path, problem: "IDX rank \(rank) is not 1…4") }
        guard data.count >= headerSize else { throw DatasetError(file: path, problem: "truncated inside the header") }
        let dimensions = (0..<rank).map { d in
            (0..<4).reduce(0) { ($0 << 8) | Int(data[4 + 4 * d + $1]) }
        }
        let available = data.count - headerSize
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) * 4 else {
                throw DatasetError(file: path, problem: "the header's sizes (\(dimensions.map(String.init).joined(separator: "×"))) are impossible for an IDX file")
            }
            expected = product
        }
        guard available >= expected else {
            throw DatasetError(file: path, problem: "truncated: the header promises \(expected) bytes of data (\(dimensions.map(String.init).joined(separator: "×"))), the file holds \(available)",
                               hint: "download or reinstall the file")
        }
        return Array(dimensions: dimensions, bytes: [UInt8](data[headerSize..<(headerSize + expected)]))
    }

    /// The dimensions of an IDX file, reading only its header.
    public static func dimensions(_ path: String) throws(DatasetError) -> [Int] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(file: path, problem: "no such file",
                               hint: "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or point dataset.path at a folder of IDX files")
        }
        let data = try decompress(path, limit: 4 + 4 * 4)
        guard data.count >= 4, data[0] == 0, data[1] == 0, data[2] == 0x08, (1...4).contains(Int(data[3])),
              data.count >= 4 + 4 * Int(data[3]) else {
            throw DatasetError(file: path, problem: "not an IDX file of unsigned bytes")
        }
        return (0..<Int(data[3])).map { d in (0..<4).reduce(0) { ($0 << 8) | Int(data[4 + 4 * d + $1]) } }
    }

    private static func decompress(_ path: String, limit: Int = .max) throws(DatasetError) -> [UInt8] {
        guard let file = gzopen(path, "rb") else { throw DatasetError(file: path, problem: "cannot be opened") }
        defer { gzclose(file) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw DatasetError(file: path, problem: "corrupt gzip data (\(message))")
            }
            if count == 0 { break }
            output.append(contentsOf: chunk[0..<Int(count)])
            if output.count >= limit { break }
        }
        return output
    }
}
