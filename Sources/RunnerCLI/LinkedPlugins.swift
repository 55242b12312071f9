import ConvLabKit
import RunnerKit
import Synchronization

/// The plugins compiled into this runner besides the built-in ones (`RunnerCommand.main(plugins:)`).
/// Set once, before the command line is parsed; the commands read them when they build their registry.
enum LinkedPlugins {
    private static let plugins = Mutex<[Plugin]>([])

    static func set(_ list: [Plugin]) { plugins.withLock { $0 = list } }

    static var all: [Plugin] { plugins.withLock { $0 } }
}
