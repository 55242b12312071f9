import Foundation

/// Whether a test that needs something outside the project (a data set, a program, a Python
/// module) runs: here when it is available, and always under CI (`CI=true`), where
/// `scripts/bootstrap` installs it, so that a missing prerequisite fails there instead of the
/// test being skipped without anyone noticing.
public func availableOrRequiredInCI(_ available: @autoclosure () -> Bool) -> Bool {
    ProcessInfo.processInfo.environment["CI"] == "true" || available()
}
