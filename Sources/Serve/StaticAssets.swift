/// The files the pages load, compiled into the runner: served from this table only, never from
/// the file system, and nothing from another host (the pages work offline).
enum StaticAssets {
    enum Asset: String, Sendable, CaseIterable {
        case script = "app.js"
        case styleSheet = "style.css"
        case icon = "icon.svg"

        var contentType: String {
            switch self {
            case .script: "text/javascript; charset=utf-8"
            case .styleSheet: "text/css; charset=utf-8"
            case .icon: "image/svg+xml"
            }
        }

        var body: String {
            switch self {
            case .script: AppScript.source
            case .styleSheet: StyleSheet.source
            case .icon: ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f77b4"/><polyline points="2,12 6,7 9,9 14,3" fill="none" stroke="#fff" stroke-width="2"/></svg>"##
            }
        }
    }
}
