import Foundation
import XCTest
@testable import RxrayRules

final class JSONDocumentTests: XCTestCase {
    func doc(_ s: String, maxDepth: Int = JSONDocument.defaultMaxDepth) throws -> JSONDocument {
        try JSONDocument(text: s, file: "t.json", maxDepth: maxDepth)
    }

    /// The error for `s`, which must fail.
    func failure(_ s: String, maxDepth: Int = JSONDocument.defaultMaxDepth, file: StaticString = #filePath, line: UInt = #line) -> InputError? {
        do {
            _ = try doc(s, maxDepth: maxDepth)
            XCTFail("accepted: \(s.prefix(80))", file: file, line: line)
            return nil
        } catch let e as InputError {
            return e
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
            return nil
        }
    }

    func testScalarsContainersAndLookups() throws {
        let d = try doc(#" {"a": [1, -2, 3.5, true, false, null, "x"], "b": {}, "c": [], "a2": {"k": "v"}} "#)
        let root = d.root
        XCTAssertEqual(root.kind, .object)
        XCTAssertEqual(root.object?.keys, ["a", "b", "c", "a2"])
        let a = try XCTUnwrap(root["a"]?.array)
        XCTAssertEqual(a.count, 7)
        XCTAssertEqual(a.map(\.kind), [.number, .number, .number, .bool, .bool, .null, .string])
        XCTAssertEqual(a.element(0)?.number, .int(1))
        XCTAssertEqual(a.element(1)?.number, .int(-2))
        XCTAssertEqual(a.element(2)?.number, .double(3.5))
        XCTAssertEqual(a.element(3)?.bool, true)
        XCTAssertEqual(a.element(4)?.bool, false)
        XCTAssertEqual(a.element(4)?.number, .bool(false))
        XCTAssertTrue(a.element(5)?.isNull ?? false)
        XCTAssertEqual(a.element(6)?.string, "x")
        XCTAssertNil(a.element(7))
        XCTAssertEqual(root["b"]?.object?.isEmpty, true)
        XCTAssertEqual(root["c"]?.array?.count, 0)
        XCTAssertEqual(root["a2"]?["k"]?.string, "v")
        XCTAssertNil(root["nope"])
        XCTAssertNil(root["a"]?["k"], "members of an array do not exist")
        XCTAssertNil(root["a2"]?.string)
        XCTAssertEqual(root["a"]?.rawText, #"[1, -2, 3.5, true, false, null, "x"]"#)
        XCTAssertEqual(root["a2"]?.location.column, 70)
    }

    func testLastOfARepeatedKeyWins() throws {
        XCTAssertEqual(try doc(#"{"k": 1, "k": 2}"#).root["k"]?.number, .int(2))
        // An escaped key matches its decoded text.
        XCTAssertEqual(try doc(#"{"\u006b": 3}"#).root["k"]?.number, .int(3))
    }

    func testIntegersAreExactTo64Bits() throws {
        let d = try doc("[9223372036854775807, -9223372036854775808, 18446744073709551615, 18446744073709551616, 1e2, 0, -0, 12345678901234567]")
        let n = try XCTUnwrap(d.root.array).map { $0.number! }
        XCTAssertEqual(n[0], .int(.max))
        XCTAssertEqual(n[1], .int(.min))
        XCTAssertEqual(n[2], .uint(.max))
        XCTAssertEqual(n[3], .double(18446744073709551616))
        XCTAssertEqual(n[4], .double(100))
        XCTAssertEqual(n[5], .int(0))
        XCTAssertEqual(n[6], .int(0))
        XCTAssertEqual(n[7].uint64, 12345678901234567, "a Double would round this")
        XCTAssertEqual(JSONNumber.int(-1).uint64, .max, "NSNumber's uint64Value keeps the bit pattern")
        XCTAssertEqual(JSONNumber.double(2.9).int, 2)
        XCTAssertEqual(JSONNumber.uint(0x1_0000_0005).uint32, 5)
        XCTAssertEqual(JSONNumber.int(1).bridgedBool, true)
        XCTAssertNil(JSONNumber.int(2).bridgedBool)
    }

    func testEscapesAndSurrogatePairsDecode() throws {
        let d = try doc(#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "plain é €", "\u0000"]"#)
        let s = try XCTUnwrap(d.root.array).map { $0.string! }
        XCTAssertEqual(s[0], "a\"b\\c/d\u{8}\u{C}\n\r\t")
        XCTAssertEqual(s[1], "é€")
        XCTAssertEqual(s[2], "😀")
        XCTAssertEqual(s[3], "plain é €")
        XCTAssertEqual(s[4], "\u{0}")
        XCTAssertEqual(try doc("\u{FEFF}[1]").root.array?.count, 1, "a byte order mark is skipped")
    }

    func testErrorsNameFileLineAndColumn() {
        let truncated = failure("{\n  \"nftables\": [\n    {\"table\": {\"family\": \"ip\"")
        XCTAssertEqual(truncated?.file, "t.json")
        XCTAssertEqual(truncated?.line, 3)
        XCTAssertEqual(truncated?.column, 30)
        XCTAssertEqual(truncated?.description, "t.json:3:30: not valid JSON: expected ',' or '}' after an object member, found end of input")
        let str = failure("[\n \"abc")
        XCTAssertEqual(str?.description, "t.json:2:2: not valid JSON: unterminated string (it starts here)")
        XCTAssertEqual(failure(#"{"a" 1}"#)?.description, "t.json:1:6: not valid JSON: expected ':' after a member name, found '1'")
        XCTAssertEqual(failure("[1,]")?.description, "t.json:1:4: not valid JSON: expected a value, found ']'")
        XCTAssertEqual(failure("{,}")?.description, "t.json:1:2: not valid JSON: expected a member name in double quotes, found ','")
        XCTAssertEqual(failure("[01]")?.description, "t.json:1:2: not valid JSON: a number must not have a leading zero")
        XCTAssertEqual(failure("[1.]")?.description, "t.json:1:4: not valid JSON: expected a digit after '.', found ']'")
        XCTAssertEqual(failure("[1e]")?.description, "t.json:1:4: not valid JSON: expected a digit in the exponent, found ']'")
        XCTAssertEqual(failure("[-]")?.description, "t.json:1:3: not valid JSON: expected a digit, found ']'")
        XCTAssertEqual(failure("[tru]")?.description, "t.json:1:5: not valid JSON: expected 'true', found ']'")
        XCTAssertEqual(failure("[1] [2]")?.description, "t.json:1:5: not valid JSON: unexpected '[' after the top-level value")
        XCTAssertEqual(failure("")?.description, "t.json:1:1: not valid JSON: expected a value, found end of input")
        XCTAssertEqual(failure("[\"a\tb\"]")?.description, "t.json:1:4: not valid JSON: unescaped control character (byte 0x09) in a string")
        XCTAssertEqual(failure(#"["\x"]"#)?.description, #"t.json:1:3: not valid JSON: invalid escape: 'x' after '\'"#)
        XCTAssertEqual(failure(#"["\u12"]"#)?.description, #"t.json:1:3: not valid JSON: \u must be followed by four hex digits"#)
        XCTAssertEqual(failure(#"["é\ud83d"]"#)?.description, #"t.json:1:4: not valid JSON: UTF-16 high surrogate \uD83D is not followed by a low surrogate"#)
        XCTAssertEqual(failure(#"["\ud83d\u0041"]"#)?.description, #"t.json:1:3: not valid JSON: UTF-16 high surrogate \uD83D is not followed by a low surrogate"#)
        XCTAssertEqual(failure(#"["\ude00"]"#)?.description, #"t.json:1:3: not valid JSON: UTF-16 low surrogate \uDE00 without a high surrogate before it"#)
        XCTAssertEqual(failure("[\"a\\")?.description, "t.json:1:2: not valid JSON: unterminated string (it starts here)")
    }

    func testInvalidUTF8IsRejected() throws {
        func bytes(_ b: [UInt8]) -> Error? {
            do { _ = try JSONDocument(bytes: [UInt8(ascii: "\"")] + b + [UInt8(ascii: "\"")], file: "u.json"); return nil } catch { return error }
        }
        XCTAssertNil(bytes([0xC3, 0xA9]), "é")
        XCTAssertNil(bytes([0xF0, 0x9F, 0x98, 0x80]), "😀")
        XCTAssertNotNil(bytes([0xC3]), "truncated sequence")
        XCTAssertNotNil(bytes([0xC0, 0xAF]), "overlong")
        XCTAssertNotNil(bytes([0xE0, 0x80, 0xAF]), "overlong")
        XCTAssertNotNil(bytes([0xED, 0xA0, 0x80]), "UTF-8 encoded surrogate")
        XCTAssertNotNil(bytes([0xF4, 0x90, 0x80, 0x80]), "beyond U+10FFFF")
        XCTAssertNotNil(bytes([0x80]), "lone continuation byte")
        XCTAssertNotNil(bytes([0xFF]))
        XCTAssertEqual("\(bytes([0x41, 0xFF])!)", "u.json:1:3: not valid JSON: invalid UTF-8 (byte 0xFF)")
    }

    func testDepthIsLimited() throws {
        XCTAssertNoThrow(try doc(String(repeating: "[", count: 512) + String(repeating: "]", count: 512)))
        let deep = failure(String(repeating: "[", count: 513) + String(repeating: "]", count: 513))
        XCTAssertEqual(deep?.description, "t.json:1:513: not valid JSON: nested deeper than 512 arrays and objects")
        XCTAssertNotNil(failure(#"{"a": {"b": {"c": 1}}}"#, maxDepth: 2))
        // Very deep input fails cleanly rather than exhausting the stack.
        XCTAssertNotNil(failure(String(repeating: "[{\"k\":", count: 100_000)))
    }

    /// Random documents written by JSONSerialization read back to the same values.
    func testRandomDocumentsReadBackLikeFoundation() throws {
        var rng = SplitMix(seed: 0x5eed)
        func randomString() -> String {
            let pool: [Character] = ["a", "b", "\"", "\\", "/", "\n", "\t", "\u{1}", "é", "€", "😀", " ", "z", "\u{7F}"]
            return String((0..<Int(rng.next() % 8)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })
        }
        func randomValue(_ depth: Int) -> Any {
            switch rng.next() % (depth > 4 ? 4 : 6) {
            case 0: return NSNumber(value: Int64(bitPattern: rng.next()) >> (rng.next() % 64))
            case 1: return randomString()
            case 2: return rng.next() % 2 == 0
            case 3: return NSNull()
            case 4: return (0..<Int(rng.next() % 5)).map { _ in randomValue(depth + 1) }
            default:
                var d: [String: Any] = [:]
                for _ in 0..<Int(rng.next() % 5) { d[randomString()] = randomValue(depth + 1) }
                return d
            }
        }
        func same(_ v: JSONValue, _ f: Any, _ path: String) {
            switch v.kind {
            case .null: XCTAssertTrue(f is NSNull, path)
            case .bool: XCTAssertEqual(v.bool, (f as? NSNumber)?.boolValue, path)
            case .number: XCTAssertEqual(v.number?.uint64, (f as? NSNumber)?.uint64Value, path)
            case .string: XCTAssertEqual(v.string, f as? String, path)
            case .array:
                guard let fa = f as? [Any], let a = v.array, fa.count == a.count else { return XCTFail("array at \(path)") }
                for (k, (x, y)) in zip(a, fa).enumerated() { same(x, y, path + "[\(k)]") }
            case .object:
                guard let fo = f as? [String: Any], let o = v.object, fo.count == o.count else { return XCTFail("object at \(path)") }
                for (k, x) in o { guard let y = fo[k] else { XCTFail("key \(k) at \(path)"); continue }; same(x, y, path + "." + k) }
            }
        }
        for round in 0..<300 {
            let value: Any = rng.next() % 2 == 0 ? randomValue(0) as? [Any] ?? [] : ["k": randomValue(0)]
            let data = try JSONSerialization.data(withJSONObject: value, options: round % 2 == 0 ? [.prettyPrinted] : [])
            let d = try JSONDocument(bytes: [UInt8](data), file: "r.json")
            same(d.root, try JSONSerialization.jsonObject(with: data), "round \(round)")
            // Every strict prefix is incomplete: it must fail, with a location, never trap.
            if round % 10 == 0 {
                for cut in stride(from: 0, to: data.count, by: max(1, data.count / 40)) {
                    XCTAssertThrowsError(try JSONDocument(bytes: [UInt8](data.prefix(cut)), file: "r.json")) { e in
                        XCTAssertNotNil((e as? InputError)?.line)
                    }
                }
            }
        }
    }
}
