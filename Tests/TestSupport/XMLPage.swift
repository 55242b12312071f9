import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A page read as XML: whether it is well-formed (and the parser's error when not), the names of
/// its elements, its text, and the `data-series` of its chart lines.
public final class XMLPage: NSObject, XMLParserDelegate {
    public private(set) var wellFormed = false
    public private(set) var error = ""
    public private(set) var elements: Set<String> = []
    public private(set) var text = ""
    public private(set) var series: [String] = []

    public init(_ page: String) {
        super.init()
        let parser = XMLParser(data: Data(page.utf8))
        parser.delegate = self
        wellFormed = parser.parse()
        error = parser.parserError.map { "\($0)" } ?? ""
    }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                       attributes: [String: String]) {
        elements.insert(name)
        if name == "polyline", let s = attributes["data-series"] { series.append(s) }
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
