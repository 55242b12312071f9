import ConvLabKit
import ConvCore
import Dispatch
import Foundation
import RunStore
import TextKit

/// Where and with what a run ran, recorded with it so it can be reproduced.
public enum Provenance {
    public static let convlabVersion = "0.1.0"

    public static var swiftVersion: String {
        #if compiler(>=6.3)
        "Swift 6.3 or newer"
        #elseif compiler(>=6.2)
        "Swift 6.2"
        #else
        "Swift 6.1"
        #endif
    }

    /// What needs no spec: host, OS, versions, BLAS kernels, the command line, the CPU model.
    /// The runner adds the spec's git state (`git(forSpecAt:)`).
    public static var current: RunProvenance {
        let info = ProcessInfo.processInfo
        return RunProvenance(host: RunStore.hostName, os: info.operatingSystemVersionString, convlabVersion: convlabVersion,
                             swiftVersion: swiftVersion, blas: "OpenBLAS, \(BLASRuntime.coreName) kernels",
                             commandLine: commandLine(CommandLine.arguments), cpuModel: cpuModel())
    }

    /// argv as a JSON array: every argument kept exactly, spaces and quotes included.
    public static func commandLine(_ arguments: [String]) -> String {
        "[" + arguments.map(JSONWriter.quote).joined(separator: ", ") + "]"
    }

    /// The first "model name" of /proc/cpuinfo (Linux), or nil where there is none.
    public static func cpuModel(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String? {
        guard let cpuinfo else { return nil }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("model name") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            return model.isEmpty ? nil : model
        }
        return nil
    }

    /// HEAD and the dirty flag of the git repository the spec file at `path` lives in; nil when
    /// git is missing, the folder is in no repository, or git takes longer than `timeout`
    /// seconds (it is then killed). Dirty means uncommitted changes to tracked files: untracked
    /// files — the store itself, often — do not count. Never throws.
    public static func git(forSpecAt path: String, timeout: Double = 5) -> (commit: String, dirty: Bool)? {
        let folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        guard let head = run(["git", "-C", folder, "rev-parse", "--verify", "HEAD"], timeout: timeout),
              head.status == 0 else { return nil }
        let commit = head.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard commit.count >= 40, commit.allSatisfy(\.isHexDigit),
              let status = run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"], timeout: timeout),
              status.status == 0 else { return nil }
        return (commit.lowercased(), !status.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    /// Runs a program found on PATH; nil if it cannot start or outlives `timeout` seconds.
    static func run(_ arguments: [String], timeout: Double) -> (status: Int32, output: String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_OPTIONAL_LOCKS"] = "0"     // `git status` must not take the index lock of someone's repository
        environment["LC_ALL"] = "C"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do { try process.run() } catch { return nil }
        // Read on another thread, so that a full pipe cannot block git while this one waits.
        let collected = OutputCollector()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { collected.data = output.fileHandleForReading.readDataToEndOfFile() }
        if exited.wait(timeout: .now() + max(0.1, timeout)) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 1)
            return nil
        }
        guard reading.wait(timeout: .now() + 1) == .success else { return nil }
        return (process.terminationStatus, String(decoding: collected.data, as: UTF8.self))
    }

    public static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT (Ctrl-C)"
        case SIGTERM: "SIGTERM"
        default: "signal \(number)"
        }
    }
}

/// The bytes a reader thread collected; read only after that thread is done.
private final class OutputCollector: @unchecked Sendable {
    var data = Data()
}
