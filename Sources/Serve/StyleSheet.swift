/// style.css: the pages' one stylesheet.
enum StyleSheet {
    static let source = #"""
    body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fff; }
    header { background: #f4f6f8; border-bottom: 1px solid #dde; padding: 0.6em 1.5em; display: flex; gap: 1.2em; align-items: baseline; }
    header a { color: #1f4e79; text-decoration: none; }
    header .brand { font-weight: bold; }
    header .store { margin-left: auto; color: #667; font-size: 0.85em; font-family: ui-monospace, monospace; }
    main { padding: 0.5em 1.5em 2em; }
    h1 .subtitle { font-weight: normal; color: #556; font-size: 0.7em; }
    h2 { margin-top: 1.6em; font-size: 1.15em; }
    table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
    th, td { border-bottom: 1px solid #e3e3e8; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
    th a { color: inherit; text-decoration: none; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.live td { background: #f1f8f1; }
    .status.live { color: #1a7f37; font-weight: bold; }
    .status.stale { color: #b35900; font-weight: bold; }
    .status.failed, .status.diverged { color: #c62828; }
    .status.interrupted { color: #8a6d00; }
    .status.pruned { color: #7b4f9d; }
    tr.pruned td, tr.queued td { color: #667; }
    p.best { font-weight: bold; }
    .meta, .empty { color: #667; }
    .problem { font-size: 1.1em; max-width: 60em; }
    form.filters, #compare-form { margin: 0.6em 0; display: flex; flex-wrap: wrap; gap: 0.8em; align-items: center; }
    .grid { display: flex; flex-wrap: wrap; gap: 1em; }
    figure.chart { margin: 0; }
    figure.chart svg text { font-size: 10px; fill: #555; }
    figure.chart svg text.title { font-size: 12px; font-weight: bold; fill: #222; }
    figure.chart .axis line { stroke: #e6e6ea; }
    figure.chart polyline.series { stroke-width: 1.6; }
    figure.chart polyline.series.raw { stroke-width: 1; opacity: 0.25; }
    figcaption { font-size: 0.8em; max-width: 480px; }
    figcaption .key { margin-right: 0.8em; white-space: nowrap; }
    pre.spec, pre.note { background: #f7f7f9; padding: 0.6em; overflow-x: auto; font-size: 0.85em; max-width: 100%; white-space: pre-wrap; }
    .controls { margin: 0.4em 0; }
    """#
}
