import Foundation

/// Reads an ELF file's headers before dlopen sees it: the loader maps a file's segments as its
/// program headers say, and a segment past the end of a truncated file is a SIGBUS when the
/// loader touches it. So the file must be a 64-bit little-endian shared object for this machine,
/// and every table and segment its headers name must lie inside the file.
enum ELFCheck {
    #if arch(x86_64)
    static let machine: UInt16 = 62          // EM_X86_64
    #elseif arch(arm64)
    static let machine: UInt16 = 183         // EM_AARCH64
    #else
    static let machine: UInt16 = 0
    #endif

    /// Why the file cannot be a plugin for this runner, or nil.
    static func problem(_ data: Data, fileSize: UInt64) -> String? {
        let bytes = [UInt8](data)
        guard bytes.count >= 64, bytes[0..<4] == [0x7F, 0x45, 0x4C, 0x46] else {
            return "is not a shared library (no ELF header); a plugin is the lib<Name>.so that `swift build` makes of a `.library(type: .dynamic)` product"
        }
        func u16(_ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> UInt64 { u32(at) | u32(at + 4) << 32 }
        guard bytes[4] == 2, bytes[5] == 1 else { return "is not a 64-bit little-endian ELF file, so not built for this machine" }
        guard u16(16) == 3 else { return "is an ELF file but not a shared library (an executable or an object file?)" }
        guard u16(18) == UInt64(machine) else { return "is a shared library for another processor (ELF machine \(u16(18)))" }
        let (programOffset, programEntrySize, programCount) = (u64(32), u16(54), u16(56))
        let (sectionOffset, sectionEntrySize, sectionCount) = (u64(40), u16(58), u16(60))
        let truncated = "is cut short: its headers describe \(fileSize > 0 ? "more than its \(fileSize) bytes" : "data it does not have") (an interrupted copy or build?); rebuild or copy it again"
        func fits(_ offset: UInt64, _ length: UInt64) -> Bool {
            let (end, overflow) = offset.addingReportingOverflow(length)
            return !overflow && end <= fileSize
        }
        guard programEntrySize >= 56, fits(programOffset, programEntrySize * programCount),
              sectionCount == 0 || fits(sectionOffset, sectionEntrySize * sectionCount) else { return truncated }
        guard programOffset + programEntrySize * programCount <= UInt64(bytes.count) else { return truncated }
        for index in 0..<Int(programCount) {
            let at = Int(programOffset) + index * Int(programEntrySize)
            guard fits(u64(at + 8), u64(at + 32)) else { return truncated }       // p_offset, p_filesz
        }
        return nil
    }

    /// How many bytes of the file to read: the ELF header and the program header table.
    static let headerBytes = 64 * 1024
}
