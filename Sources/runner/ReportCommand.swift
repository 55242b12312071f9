import ArgumentParser

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Query, compare and chart runs from the store.")
    func run() throws {}
}
