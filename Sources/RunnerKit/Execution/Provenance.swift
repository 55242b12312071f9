import ConvCore
import Foundation
import RunStore

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

    public static var current: RunProvenance {
        let info = ProcessInfo.processInfo
        return RunProvenance(host: info.hostName, os: info.operatingSystemVersionString, convlabVersion: convlabVersion,
                             swiftVersion: swiftVersion, blas: "OpenBLAS, \(BLASRuntime.coreName) kernels")
    }

    public static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT (Ctrl-C)"
        case SIGTERM: "SIGTERM"
        default: "signal \(number)"
        }
    }
}
