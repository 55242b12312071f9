/// The frame of every page: title, navigation, the stylesheet and the script, both served by the
/// runner itself (no CDN, works offline). No inline script or style, so the Content-Security-Policy
/// can forbid both: even an escaping mistake could not run a script.
enum PageLayout {
    static func page(title: String, storePath: String, body: String, script: Bool = true) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title)) · ConvLab</title>
        <link rel="stylesheet" href="/static/style.css">
        <link rel="icon" href="/static/icon.svg" type="image/svg+xml">
        \(script ? "<script src=\"/static/app.js\" defer></script>" : "")
        </head>
        <body>
        <header><a class="brand" href="/">ConvLab</a> <a href="/">runs</a> <a href="/compare">compare</a>
        <span class="store" title="the store, opened read-only">\(HTML.escape(storePath))</span></header>
        <main>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    static func errorPage(_ problem: HTTPProblem, storePath: String) -> String {
        page(title: "\(problem.status.code) \(problem.status.reasonPhrase)", storePath: storePath, body: """
            <h1>\(problem.status.code) \(HTML.escape(problem.status.reasonPhrase))</h1>
            <p class="problem">\(HTML.escape(problem.message))</p>
            <p><a href="/">All runs</a></p>
            """, script: false)
    }
}
