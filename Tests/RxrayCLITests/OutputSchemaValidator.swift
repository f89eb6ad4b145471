import Foundation

/// A small JSON Schema (draft 2020-12) validator for the keywords rxray's schemas use:
/// `$ref` (local `#/$defs/...`), `type` (a name or a list), `required`, `properties`,
/// `additionalProperties` (boolean or schema), `propertyNames`, `enum`, `const`, `items`,
/// `oneOf`, `pattern`, `minimum`. Annotation keywords (`title`, `description`, `$id`,
/// `$schema`) are ignored; any other keyword is reported, so a schema cannot silently use
/// something this validator does not check.
struct SchemaValidator {
    let root: [String: Any]

    static let known: Set<String> = [
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "required", "properties",
        "additionalProperties", "propertyNames", "enum", "const", "items", "oneOf", "pattern", "minimum",
    ]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NSError(domain: "\(path): not a JSON object", code: 1)
        }
        root = obj
    }

    /// Errors for `value` (empty when valid), each naming the JSON path.
    func validate(_ value: Any) -> [String] {
        var errors: [String] = []
        check(value, against: root, at: "$", &errors)
        return errors
    }

    private func resolve(_ ref: String) -> [String: Any]? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let d = node as? [String: Any], let next = d[String(part)] else { return nil }
            node = next
        }
        return node as? [String: Any]
    }

    static func typeName(_ v: Any) -> String {
        if v is NSNull { return "null" }
        if type(of: v) == Bool.self { return "boolean" }
        if let n = v as? NSNumber {
            let objCType = String(cString: n.objCType)
            if objCType == "c" || objCType == "B" { return "boolean" }
            return n.doubleValue == n.doubleValue.rounded() && !"\(n)".contains(".") ? "integer" : "number"
        }
        if v is String { return "string" }
        if v is [Any] { return "array" }
        if v is [String: Any] { return "object" }
        return "unknown"
    }

    static func equal(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as String, let y as String): return x == y
        case (let x as NSNumber, let y as NSNumber): return typeName(x) == typeName(y) && x == y
        case (is NSNull, is NSNull): return true
        default: return false
        }
    }

    private func check(_ v: Any, against s: [String: Any], at path: String, _ errors: inout [String]) {
        for k in s.keys where !Self.known.contains(k) {
            errors.append("\(path): schema uses '\(k)', which this validator does not implement")
        }
        if let ref = s["$ref"] as? String {
            if let target = resolve(ref) { check(v, against: target, at: path, &errors) } else {
                errors.append("\(path): unresolvable $ref \(ref)")
            }
        }
        let actual = Self.typeName(v)
        if let t = s["type"] {
            let allowed = (t as? [String]) ?? [(t as? String) ?? ""]
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !ok {
                errors.append("\(path): type \(actual), expected \(allowed.joined(separator: "|"))")
                return
            }
        }
        if let e = s["enum"] as? [Any], !e.contains(where: { Self.equal($0, v) }) {
            errors.append("\(path): \(v) is not one of \(e)")
        }
        if let c = s["const"], !Self.equal(c, v) { errors.append("\(path): \(v) is not \(c)") }
        if let one = s["oneOf"] as? [[String: Any]] {
            var passing = 0
            for sub in one {
                var e: [String] = []
                check(v, against: sub, at: path, &e)
                if e.isEmpty { passing += 1 }
            }
            if passing != 1 { errors.append("\(path): matches \(passing) of the oneOf alternatives, not exactly one") }
        }
        if let str = v as? String, let p = s["pattern"] as? String {
            do {
                let re = try NSRegularExpression(pattern: p)
                if re.firstMatch(in: str, range: NSRange(str.startIndex..., in: str)) == nil {
                    errors.append("\(path): '\(str)' does not match /\(p)/")
                }
            } catch {
                errors.append("\(path): bad pattern /\(p)/")
            }
        }
        if let n = v as? NSNumber, actual != "boolean", let m = s["minimum"] as? NSNumber, n.doubleValue < m.doubleValue {
            errors.append("\(path): \(n) is below the minimum \(m)")
        }
        if let arr = v as? [Any], let items = s["items"] as? [String: Any] {
            for (i, x) in arr.enumerated() { check(x, against: items, at: "\(path)[\(i)]", &errors) }
        }
        if let obj = v as? [String: Any] {
            for r in (s["required"] as? [String]) ?? [] where obj[r] == nil {
                errors.append("\(path): missing required key '\(r)'")
            }
            let props = (s["properties"] as? [String: Any]) ?? [:]
            for (k, x) in obj.sorted(by: { $0.key < $1.key }) {
                if let names = s["propertyNames"] as? [String: Any] {
                    check(k, against: names, at: "\(path) key '\(k)'", &errors)
                }
                if let p = props[k] as? [String: Any] {
                    check(x, against: p, at: "\(path).\(k)", &errors)
                } else if let extra = s["additionalProperties"] {
                    if let allowed = extra as? Bool {
                        if !allowed { errors.append("\(path): key '\(k)' is not in the schema") }
                    } else if let sub = extra as? [String: Any] {
                        check(x, against: sub, at: "\(path).\(k)", &errors)
                    }
                }
            }
        }
    }
}
