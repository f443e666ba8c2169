// The strict JSON reader: what it accepts, what it refuses, and where it says the fault is.

import Testing
@testable import TensorLedger

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSON.parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null], "b": {"c": "d\n\u00e9\ud83d\ude00"}} "#)
        let o = try #require(v.object)
        #expect(o.keys == ["a", "b"])
        #expect(o["a"] == .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(o["b"]?.object?["c"] == .string("d\né😀"))
    }

    @Test func keepsIntegersApartFromFloats() throws {
        #expect(try JSON.parse("2") == .int(2))
        #expect(try JSON.parse("2.0") == .double(2))
        // Larger than Int64: still a number, never an integer that wrapped.
        #expect(try JSON.parse("18446744073709551616") == .double(18446744073709551616))
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "duplicateKey"),
        ("[1,2", "unexpectedEnd"),
        ("{\"a\" 1}", "unexpectedByte"),
        ("[01]", "invalidNumber"),
        ("\"\\x\"", "invalidEscape"),
        ("\"\\ud800\"", "invalidEscape"),
        ("\"a\u{1}\"", "controlCharacterInString"),
        ("1 2", "trailingData"),
        (String(repeating: "[", count: 129) + String(repeating: "]", count: 129), "tooDeep"),
    ])
    func rejects(text: String, problem: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
        do {
            _ = try JSON.parse(text)
        } catch {
            #expect(caseName(error.problem) == problem || "\(error.problem)" == problem, "\(error)")
        }
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let text = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        _ = try JSON.parse(text)
    }

    @Test func reportsTheOffsetOfTheFault() {
        do {
            _ = try JSON.parse("{\"ok\": 1, \"bad\": tru}")
            Issue.record("should have failed")
        } catch {
            // The byte that broke the literal "true", not the literal's start.
            #expect(error.offset == 20)
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: JSONError(problem: .invalidUTF8, offset: 1)) { try JSON.parse(bytes) }
        // Overlong encoding of "/" and a UTF-16 surrogate encoded in UTF-8.
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xC0, 0xAF, 0x22]) }
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func writesWhatItReads() throws {
        let text = #"{"a":[1,2.5,"x\"y"],"b":{"c":null,"d":true}}"#
        let v = try JSON.parse(text)
        #expect(v.serialized(pretty: false) == text)
        #expect(try JSON.parse(v.serialized(pretty: true)) == v)
    }
}
