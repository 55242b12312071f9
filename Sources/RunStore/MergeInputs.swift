import Foundation

/// The files `runner merge` is given, checked before anything is opened for writing: every input
/// exists, is a store of this schema, and is given once; OUT is none of them, through any
/// symlink or hard link.
public struct MergeInputs: Sendable, Equatable {
    /// The inputs, in the order given.
    public var paths: [String]
    /// Their schema versions (each at least `oldestMergeableVersion` once checked).
    public var versions: [Int]

    /// One file's identity: its device and inode (so hard links and symlinks are one file).
    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64

        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// Runs have UUIDs from schema 3 on, so a merge of them can be repeated; a schema-3 input's
    /// runs are copied with no claimant identity (schema 4), as a claim from before schema 4.
    public static let oldestMergeableVersion = 3

    /// Checks the paths; with `upgradeOlder`, inputs written by a ConvLab older than schema 3 are
    /// upgraded in place (their runs get UUIDs, once) instead of refused.
    public static func check(output: String, inputs: [String], upgradeOlder: Bool = false) throws(StoreError) -> MergeInputs {
        guard !inputs.isEmpty else {
            throw StoreError(.missing, path: output, "no input stores to merge into it; name one or more: runner merge OUT.sqlite IN.sqlite…")
        }
        var seen: [Identity: String] = [:]
        for input in inputs {
            var info = stat()
            guard stat(input, &info) == 0 else {
                throw StoreError(.missing, path: input, "no such file; check the input's path (nothing was merged)")
            }
            guard info.st_mode & S_IFMT == S_IFREG, let identity = Identity(input) else {
                throw StoreError(.notAStore, path: input, "is not a regular file (a folder, device or pipe), so not a store (nothing was merged)")
            }
            if let first = seen[identity] {
                throw StoreError(.invalidValue, path: input,
                                 first == input ? "is given twice; name each input once (nothing was merged)"
                                                : "is the same file as \(first), given before it (a symlink or hard link); name each input once (nothing was merged)")
            }
            seen[identity] = input
        }
        let outputResolved = URL(fileURLWithPath: output).resolvingSymlinksInPath().path
        // OUT written as another store's journal would be lost to that store's next open, and
        // could damage it.
        for suffix in ["-wal", "-shm", "-journal"] where outputResolved.hasSuffix(suffix) {
            let base = String(outputResolved.dropLast(suffix.count))
            if FileManager.default.fileExists(atPath: base) {
                throw StoreError(.invalidValue, path: output,
                                 "is the \(suffix.dropFirst()) file of the store \(base); merge into a file of its own (nothing was merged)")
            }
        }
        let outputIdentity = Identity(output)
        for input in inputs {
            let resolved = URL(fileURLWithPath: input).resolvingSymlinksInPath().path
            let sameFile = outputIdentity != nil && outputIdentity == Identity(input)
            if sameFile || outputResolved == resolved || ["-wal", "-shm", "-journal"].contains(where: { outputResolved == resolved + $0 }) {
                throw StoreError(.invalidValue, path: output,
                                 "is the input \(input)\(input != output ? " (the same file, through a symlink or hard link)" : ""); merge into a new or another store (nothing was merged)")
            }
        }
        var versions: [Int] = []
        for input in inputs {
            let inspected: Int?
            do { inspected = try RunStore.inspect(path: input) } catch where error.kind == .notAStore {
                throw StoreError(.notAStore, path: input, error.message.replacingOccurrences(of: "; choose another --store path", with: "") + " (nothing was merged)")
            }
            guard var version = inspected else {
                throw StoreError(.notAStore, path: input, "is an empty SQLite file, not a ConvLab store (nothing was merged)")
            }
            if version < oldestMergeableVersion {
                guard upgradeOlder else {
                    throw StoreError(.invalidValue, path: input,
                                     "was written by an older ConvLab (store schema \(version), this build writes \(StoreSchema.currentVersion)): its runs have no UUIDs yet, so merging it could not be repeated safely. Run the merge again with --upgrade-inputs to upgrade it in place first (nothing was merged)")
                }
                let store = try RunStore(path: input)
                try store.close()
                version = try RunStore.inspect(path: input) ?? version
            }
            versions.append(version)
        }
        for input in inputs { try checkIntact(input) }
        return MergeInputs(paths: inputs, versions: versions)
    }

    /// An input with damaged pages (bytes overwritten, the file cut short) is refused before
    /// anything is written: SQLite notices damage only on the page it reads, which may be half-way
    /// through the merge, or never for the rows it copies wrong.
    static func checkIntact(_ input: String) throws(StoreError) {
        let queue = try RunStore.openInput(input)
        defer { try? queue.close() }
        let problems: [String]
        do {
            problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(3)") }
        } catch {
            let translated = RunStore.translate(error, path: input)
            throw StoreError(translated.kind, path: input, translated.message.replacingOccurrences(of: "; choose another --store path", with: "")
                             + "; restore it from a copy, or leave it out (nothing was merged)")
        }
        guard problems != ["ok"] else { return }
        let said = problems.joined(separator: "; ").split(whereSeparator: \.isNewline).joined(separator: " ")
        throw StoreError(.notAStore, path: input, "is damaged (SQLite's quick_check: \(said)); restore it from a copy, or leave it out (nothing was merged)")
    }
}
