import Foundation

/// Where a merge into an OUT that does not exist yet builds it: a folder
/// `.<OUT name>.merging-<random>` beside OUT (the same file system, so moving the result into
/// place is a rename), holding the new store under OUT's own name and its artifacts folder. Only
/// a complete, closed store is linked into place, so OUT is either absent or whole, whenever the
/// merge is killed.
///
/// The merge holds a lock (flock) on its folder while it lives. A folder whose lock nobody holds
/// was left by a merge that was killed: the next merge into the same OUT removes it. Creating,
/// removing and publishing happen under a lock on OUT's parent folder, so two merges never take
/// each other's folder, or both create OUT.
struct MergeStaging {
    let output: String
    let folder: String
    /// The store being built, named as OUT is (its artifacts go to `<storePath>.artifacts`).
    let storePath: String
    private let lock: Int32

    static func prefix(of output: String) -> String {
        "." + (output as NSString).lastPathComponent + ".merging-"
    }

    static func parent(of output: String) -> String {
        let parent = (output as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// Removes what killed merges into `output` left, and makes a folder of this merge's own.
    init(output: String) throws(StoreError) {
        self.output = output
        let parent = Self.parent(of: output)
        let name = Self.prefix(of: output) + UUID().uuidString.lowercased()
        let folder = parent + "/" + name
        self.folder = folder
        storePath = folder + "/" + (output as NSString).lastPathComponent
        lock = try Self.underParentLock(output) { () throws(StoreError) -> Int32 in
            Self.removeAbandoned(output)
            guard mkdir(folder, 0o755) == 0 else {
                throw StoreError(.io, path: output, "cannot be created (\(String(cString: strerror(errno)))): does its folder exist, and may it be written? (nothing was merged)")
            }
            let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                if descriptor >= 0 { close(descriptor) }
                rmdir(folder)
                throw StoreError(.io, path: folder, "could not be locked for the merge (nothing was merged)")
            }
            return descriptor
        }
    }

    /// The error as the person who asked for OUT should read it: about OUT, not the folder it is built in.
    func naming(_ error: StoreError) -> StoreError {
        StoreError(error.kind, path: error.path.replacingOccurrences(of: storePath, with: output),
                   error.message.replacingOccurrences(of: storePath, with: output))
    }

    /// Removes the folder and everything in it (the merge ended, or failed).
    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
        close(lock)
    }

    /// Moves the built store (closed, its WAL folded in) and its checkpoint files into place.
    /// Returns false, changing nothing, when OUT appeared meanwhile (another process made it):
    /// the caller then merges into that store as into any existing one.
    func publish() throws(StoreError) -> Bool {
        var info = stat()
        if stat(storePath + "-wal", &info) == 0, info.st_size > 0 {
            throw StoreError(.io, path: storePath, "still has a write-ahead log after it was closed; nothing was merged")
        }
        try Self.sync(storePath)
        return try Self.underParentLock(output) { () throws(StoreError) -> Bool in
            if Self.exists(output) { return false }
            // Checkpoint files first: until OUT exists nothing refers to them, so a kill between
            // the two steps leaves only files that the next merge into OUT writes over.
            try moveArtifacts()
            try Self.sync(Self.parent(of: output))
            if link(storePath, output) != 0 {
                let linkError = errno
                guard linkError != EEXIST else { return false }
                // A file system without hard links: rename, which the parent lock keeps from
                // replacing an OUT (merges check for it under the same lock).
                guard rename(storePath, output) == 0 else {
                    throw StoreError(.io, path: output, "could not be put in place: \(String(cString: strerror(errno))) (nothing was merged)")
                }
            }
            try Self.sync(Self.parent(of: output))
            return true
        }
    }

    private func moveArtifacts() throws(StoreError) {
        let built = storePath + ".artifacts"
        guard Self.exists(built) else { return }
        let target = output + ".artifacts"
        if !Self.exists(target) {
            guard rename(built, target) == 0 else {
                throw StoreError(.io, path: target, "could not be put in place: \(String(cString: strerror(errno))) (nothing was merged)")
            }
            return
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isFolder), isFolder.boolValue else {
            throw StoreError(.io, path: target, "is in the way of OUT's checkpoint files and is not a folder; move it away (nothing was merged)")
        }
        // Left by a merge killed after it had moved its files, or by a store deleted without
        // them: OUT does not exist, so nothing refers to what is there. Run folder by run folder.
        for run in (try? FileManager.default.contentsOfDirectory(atPath: built)) ?? [] {
            let source = built + "/" + run, destination = target + "/" + run
            if !Self.exists(destination) {
                guard rename(source, destination) == 0 else {
                    throw StoreError(.io, path: destination, "could not be put in place: \(String(cString: strerror(errno))) (nothing was merged)")
                }
                continue
            }
            for file in (try? FileManager.default.contentsOfDirectory(atPath: source)) ?? [] {
                guard rename(source + "/" + file, destination + "/" + file) == 0 else {
                    throw StoreError(.io, path: destination + "/" + file, "could not be put in place: \(String(cString: strerror(errno))) (nothing was merged)")
                }
            }
            try Self.sync(destination)
        }
        try Self.sync(target)
    }

    /// What merges into `output` that were killed left beside it: removed. (A merge killed after
    /// it had put OUT in place leaves its folder beside an OUT that exists.)
    static func removeLeftovers(of output: String) {
        try? underParentLock(output) { () throws(StoreError) in removeAbandoned(output) }
    }

    /// Removes the staging folders of `output` whose merge is gone (nobody holds their lock).
    private static func removeAbandoned(_ output: String) {
        let parent = parent(of: output), prefix = prefix(of: output)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            let path = parent + "/" + name
            let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    private static func underParentLock<T>(_ output: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let parent = parent(of: output)
        let descriptor = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.io, path: output, "cannot be created: its folder \(parent) cannot be opened (\(String(cString: strerror(errno)))); does it exist? (nothing was merged)")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError(.io, path: parent, "could not be locked for the merge: \(String(cString: strerror(errno))) (nothing was merged)") }
        }
        return try body()
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// fsync of a file or folder: what a rename or link made is on disk before we go on.
    private static func sync(_ path: String) throws(StoreError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError(.io, path: path, "cannot be opened to be synced: \(String(cString: strerror(errno))) (nothing was merged)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StoreError(.io, path: path, "could not be synced to disk: \(String(cString: strerror(errno))) (nothing was merged)") }
    }
}
