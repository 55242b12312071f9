import Foundation
import Hummingbird
import Logging

/// `runner serve`'s server: Hummingbird 2 on one address, stopped cleanly by SIGINT or SIGTERM
/// (requests in flight are answered, then the process exits).
public enum WebServer {
    /// Serves until SIGINT or SIGTERM. `onListening` gets the address once the server listens
    /// (with port 0, the port the system chose).
    public static func run(_ configuration: ServeConfiguration, onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        try await application(configuration, onListening: onListening).runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// The application, to run as a service (`run` above) or, in tests, until its task is cancelled.
    static func application(_ configuration: ServeConfiguration,
                            onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) -> some ApplicationProtocol {
        var logger = Logger(label: "runner-serve")
        logger.logLevel = .critical     // the runner prints its own lines; request logs would drown them
        return Application(
            responder: ServeResponder(configuration: configuration),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                onListening(configuration.host, channel.localAddress?.port ?? configuration.port)
            },
            logger: logger)
    }
}
