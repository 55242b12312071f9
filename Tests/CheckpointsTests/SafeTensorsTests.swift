import Foundation
import Testing
@testable import Checkpoints
import TestSupport

@Suite("safetensors: the format PyTorch and the Hugging Face tools read")
struct SafeTensorsTests {
    /// Written by Python's `safetensors.numpy.save` (safetensors 0.x):
    /// {"layers.0.conv.weight": arange(6, float32).reshape(2, 3) * 0.5, "step": [7] as uint64},
    /// metadata {"spec": "{\"a\": 1}"}.
    static let fromPython = "b0000000000000007b225f5f6d657461646174615f5f223a7b2273706563223a227b5c22615c223a20317d227d2c2273746570223a7b226474797065223a22553634222c227368617065223a5b315d2c22646174615f6f666673657473223a5b302c385d7d2c226c61796572732e302e636f6e762e776569676874223a7b226474797065223a22463332222c227368617065223a5b322c335d2c22646174615f6f666673657473223a5b382c33325d7d7d202020202020200700000000000000000000000000003f0000803f0000c03f0000004000002040"

    @Test("a file written by Python's safetensors reads back with its values and metadata")
    func readsPython() throws {
        let file = try SafeTensors.decode(bytes(hex: Self.fromPython), file: "python.safetensors")
        #expect(file["layers.0.conv.weight"]?.shape == [2, 3])
        #expect(file["layers.0.conv.weight"]?.floats == [0, 0.5, 1, 1.5, 2, 2.5])
        #expect(file["step"]?.unsigned == [7])
        #expect(file.metadata.map(\.key) == ["spec"] && file.metadata.map(\.value) == [#"{"a": 1}"#])
    }

    @Test("random files: encode then decode gives back every tensor bit for bit, headers aligned to 8 bytes")
    func roundTrip() throws {
        var generator = SplitMix(seed: 11)
        for _ in 0..<200 {
            var tensors: [SafeTensors.Tensor] = []
            for t in 0..<generator.next(below: 5) {
                let shape = (0..<generator.next(below: 4)).map { _ in generator.next(below: 5) }
                let count = shape.reduce(1, *)
                switch generator.next(below: 3) {
                case 0: tensors.append(.init(name: "t\(t).f32", shape: shape, floats: (0..<count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.raw())) }))
                case 1: tensors.append(.init(name: "t\(t).f64", shape: shape, doubles: (0..<count).map { _ in Double(bitPattern: generator.raw()) }))
                default: tensors.append(.init(name: "t\(t).u64", shape: shape, unsigned: (0..<count).map { _ in generator.raw() }))
                }
            }
            let metadata = (0..<generator.next(below: 3)).map { (key: "k\($0)", value: "v\"\\\n\u{1}é\(generator.raw())") }
            let original = SafeTensors(tensors: tensors, metadata: metadata)
            let encoded = original.encoded()
            let headerLength = Int(UInt64(littleEndianBytes: Array(encoded[0..<8])))
            #expect(headerLength % 8 == 0)
            let decoded = try SafeTensors.decode(encoded, file: "random")
            // Compared as raw bytes: NaN payloads must survive too.
            #expect(decoded == original)
        }
    }

    @Test("every truncation of a valid file is refused with the file's name, never read short")
    func truncations() throws {
        let full = bytes(hex: Self.fromPython)
        for length in 0..<full.count {
            #expect(throws: SafeTensorsError.self, "prefix of \(length) bytes") { try SafeTensors.decode(Array(full[0..<length]), file: "cut.safetensors") }
        }
        do {
            _ = try SafeTensors.decode(Array(full[0..<100]), file: "cut.safetensors")
        } catch {
            #expect(error.description.hasPrefix("cut.safetensors: "))
            #expect(error.description.contains("truncated"))
        }
    }

    @Test("corrupt headers: a huge length, holes, overlaps, a wrong size, an unknown dtype, bad JSON, trailing bytes")
    func corruptHeaders() throws {
        func file(_ header: String, data: Int) -> [UInt8] {
            let text = Array(header.utf8)
            return littleEndianBytes([UInt64(text.count)]) + text + [UInt8](repeating: 1, count: data)
        }
        let cases: [(String, [UInt8], String)] = [
            ("huge length", littleEndianBytes([UInt64.max]) + [0x7B, 0x7D], "at most"),
            ("hole", file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: 3), "holes"),
            ("overlap", file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: 3), "holes or overlaps"),
            ("wrong size", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 4), "does not fill"),
            ("overflowing shape", file(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#, data: 4), "does not fill"),
            ("unknown dtype", file(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), "C64"),
            ("not JSON", file("{\"a\": ", data: 0), "not valid JSON"),
            ("not an object", file("[1,2]", data: 0), "not a JSON object"),
            ("trailing bytes", file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: 5), "holds 5 bytes of data"),
            ("negative shape", file(#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#, data: 1), "no shape"),
            ("metadata not strings", file(#"{"__metadata__":{"x":1}}"#, data: 0), "__metadata__.x"),
            ("not UTF-8", littleEndianBytes([UInt64(2)]) + [0xFF, 0xFE], "not UTF-8"),
        ]
        for (name, bytes, fragment) in cases {
            do {
                _ = try SafeTensors.decode(bytes, file: "bad.safetensors")
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.description.hasPrefix("bad.safetensors: ") && error.description.contains(fragment), "\(name): \(error)")
            }
        }
    }

    @Test("AtomicFile replaces a file whole and leaves no temporary file behind")
    func atomicWrite() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("convlab-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/w.safetensors"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["w.safetensors"])
        #expect(throws: AtomicFileError.self) { try AtomicFile.write([1], to: folder + "/no/such/folder/x") }
    }
}

func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16) ?? 0)
        index = next
    }
    return result
}

extension UInt64 {
    init(littleEndianBytes bytes: [UInt8]) {
        self = bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}

