import Foundation
import Hummingbird
import Logging

/// `runner serve`'s server: Hummingbird 2 on one address, stopped cleanly by SIGINT or SIGTERM
/// (requests in flight are answered, then the process exits).
public enum WebServer {
    /// Serves until SIGINT or SIGTERM. `onListening` gets the address once the server listens
    /// (with port 0, the port the system chose).
    public static func run(_ configuration: ServeConfiguration, onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        var logger = Logger(label: "runner-serve")
        logger.logLevel = .critical     // the runner prints its own lines; request logs would drown them
        let responder = ServeResponder(configuration: configuration)
        let application = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                onListening(configuration.host, channel.localAddress?.port ?? configuration.port)
            },
            logger: logger)
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
