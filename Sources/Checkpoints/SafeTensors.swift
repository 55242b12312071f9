import TextKit

/// The safetensors file format, which PyTorch, JAX and the Hugging Face tools read:
///
///     [8 bytes: N, little-endian UInt64] [N bytes: JSON header, padded with spaces] [tensor data]
///
/// The header maps each tensor's name to `{"dtype", "shape", "data_offsets": [begin, end]}`, the
/// offsets counted from the first byte after the header, and may hold `"__metadata__"`, a map of
/// strings to strings. The data is raw little-endian, the tensors laid end to end with no holes.
/// Written by hand: no Swift package reads or writes the format, and it is a page of code.
public struct SafeTensors: Equatable, Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case f64 = "F64", f32 = "F32", i64 = "I64", u64 = "U64", i32 = "I32", u32 = "U32", u8 = "U8"

        public var byteCount: Int {
            switch self {
            case .f64, .i64, .u64: 8
            case .f32, .i32, .u32: 4
            case .u8: 1
            }
        }
    }

    public struct Tensor: Equatable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Raw little-endian bytes, `shape.product × dtype.byteCount` of them.
        public var bytes: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            precondition(bytes.count == shape.reduce(1, *) * dtype.byteCount, "\(name): \(bytes.count) bytes for shape \(shape)")
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }

        public init(name: String, shape: [Int], floats: [Float]) {
            self.init(name: name, dtype: .f32, shape: shape, bytes: littleEndianBytes(floats.map(\.bitPattern)))
        }

        public init(name: String, shape: [Int], doubles: [Double]) {
            self.init(name: name, dtype: .f64, shape: shape, bytes: littleEndianBytes(doubles.map(\.bitPattern)))
        }

        public init(name: String, shape: [Int], unsigned: [UInt64]) {
            self.init(name: name, dtype: .u64, shape: shape, bytes: littleEndianBytes(unsigned))
        }

        public var elementCount: Int { shape.reduce(1, *) }

        /// The values as Float (F32 only).
        public var floats: [Float]? {
            dtype == .f32 ? fromLittleEndian(bytes, as: UInt32.self).map(Float.init(bitPattern:)) : nil
        }

        /// The values as Double (F64 only).
        public var doubles: [Double]? {
            dtype == .f64 ? fromLittleEndian(bytes, as: UInt64.self).map(Double.init(bitPattern:)) : nil
        }

        /// The values as UInt64 (U64 only).
        public var unsigned: [UInt64]? { dtype == .u64 ? fromLittleEndian(bytes, as: UInt64.self) : nil }
    }

    public var tensors: [Tensor]
    public var metadata: [(key: String, value: String)]

    public init(tensors: [Tensor], metadata: [(key: String, value: String)] = []) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name } }

    public static func == (a: SafeTensors, b: SafeTensors) -> Bool {
        a.tensors == b.tensors && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
    }

    /// The header refuses anything larger (as the reference implementation does): a corrupt length
    /// must not make the reader allocate gigabytes.
    public static let maximumHeaderSize = 100_000_000

    // MARK: Writing

    /// The file's bytes: tensors in the order given, the header padded to a multiple of 8 bytes
    /// so that every tensor starts aligned.
    public func encoded() -> [UInt8] {
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .obj(metadata.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for tensor in tensors {
            members.append((tensor.name, .obj([
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .arr(tensor.shape.map(JSONValue.int))),
                ("data_offsets", .arr([.int(offset), .int(offset + tensor.bytes.count)])),
            ])))
            offset += tensor.bytes.count
        }
        var header = Array(JSONWriter.write(.obj(members), pretty: false).utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var file = littleEndianBytes([UInt64(header.count)])
        file.reserveCapacity(8 + header.count + offset)
        file += header
        for tensor in tensors { file += tensor.bytes }
        return file
    }

    // MARK: Reading

    /// Parses and checks a whole file: header length, JSON, dtypes, shapes against offsets, and
    /// offsets that tile the data exactly. `file` names the file in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(SafeTensorsError) -> SafeTensors {
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError(file: file, problem: problem) }
        guard bytes.count >= 8 else { throw fail("is \(bytes.count) bytes long: too short for a safetensors file (truncated?)") }
        let declared = fromLittleEndian(Array(bytes[0..<8]), as: UInt64.self)[0]
        guard declared <= UInt64(maximumHeaderSize) else {
            throw fail("declares a header of \(declared) bytes (at most \(maximumHeaderSize)): not a safetensors file, or corrupt")
        }
        let headerEnd = 8 + Int(declared)
        guard headerEnd <= bytes.count else {
            throw fail("declares a header of \(declared) bytes but holds only \(bytes.count - 8) after the length (truncated?)")
        }
        guard let text = String(validating: bytes[8..<headerEnd], as: UTF8.self) else { throw fail("header is not UTF-8") }
        let root: JSONNode
        do { root = try JSONParser.parse(text) } catch {
            throw fail("header is not valid JSON (\(error.line):\(error.column): \(error.message))")
        }
        guard case .object(let members) = root.value else { throw fail("header is not a JSON object") }

        var tensors: [(begin: Int, tensor: Tensor)] = []
        var metadata: [(key: String, value: String)] = []
        let dataCount = bytes.count - headerEnd
        for (name, node) in members {
            if name == "__metadata__" {
                guard case .object(let entries) = node.value else { throw fail("__metadata__ is not an object") }
                for (key, value) in entries {
                    guard case .string(let string) = value.value else { throw fail("__metadata__.\(key) is not a string") }
                    metadata.append((key, string))
                }
                continue
            }
            guard case .string(let dtypeName)? = node.value["dtype"]?.value else { throw fail("tensor \"\(name)\" has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor \"\(name)\" has dtype \(dtypeName), which ConvLab does not read (\(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let shape = integers(node.value["shape"]?.value), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor \"\(name)\" has no shape (a list of non-negative integers)")
            }
            guard let offsets = integers(node.value["data_offsets"]?.value), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw fail("tensor \"\(name)\" has data_offsets outside the \(dataCount) bytes of data (truncated?)")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, side in
                let (product, o) = acc.0.multipliedReportingOverflow(by: side)
                return (product, acc.1 || o)
            }
            guard !overflow, elements.multipliedReportingOverflow(by: dtype.byteCount) == (offsets[1] - offsets[0], false) else {
                throw fail("tensor \"\(name)\" of shape \(shape) and dtype \(dtypeName) does not fill its \(offsets[1] - offsets[0]) bytes")
            }
            guard !tensors.contains(where: { $0.tensor.name == name }) else { throw fail("tensor \"\(name)\" appears twice") }
            let slice = Array(bytes[(headerEnd + offsets[0])..<(headerEnd + offsets[1])])
            tensors.append((offsets[0], Tensor(name: name, dtype: dtype, shape: shape, bytes: slice)))
        }
        // The tensors must tile the data: sorted by offset, each starts where the last ended.
        var end = 0
        for entry in tensors.sorted(by: { $0.begin < $1.begin }) {
            guard entry.begin == end else { throw fail("tensor \"\(entry.tensor.name)\" starts at \(entry.begin), not at \(end): the data has holes or overlaps") }
            end += entry.tensor.bytes.count
        }
        guard end == dataCount else { throw fail("holds \(dataCount) bytes of data but its tensors use \(end)") }
        return SafeTensors(tensors: tensors.map(\.tensor), metadata: metadata)
    }

    static func integers(_ value: JSONValue?) -> [Int]? {
        guard case .array(let items)? = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .number(let n) = item.value, n == n.rounded(), abs(n) < 9.0e15 else { return nil }
            result.append(Int(n))
        }
        return result
    }
}

public struct SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var description: String { "\(file): \(problem)" }
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
    bytes.withUnsafeMutableBytes { raw in
        for (i, value) in values.enumerated() { raw.storeBytes(of: value.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
    }
    return bytes
}

func fromLittleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> [T] {
    bytes.withUnsafeBytes { raw in
        (0..<(bytes.count / MemoryLayout<T>.size)).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }
}
