// Recognises files that are not safetensors so that errors can say what the file is
// (a Git LFS pointer is the most common: the weights were never downloaded).

import TensorLedgerCore

public enum SniffedFormat: String, Sendable {
    case gitLFSPointer = "a Git LFS pointer file (the weights were not downloaded; run `git lfs pull`)"
    case gguf = "a GGUF file"
    case pytorchZip = "a PyTorch zip archive (torch.save); convert it to safetensors first"
    case pytorchPickle = "a legacy PyTorch pickle file; convert it to safetensors first"
    case tlm = "a TensorLedger .tlm file"
    case html = "an HTML page (a download that returned a web page?)"
    case configJSON = "a model's config.json, not its weights (give the directory or the .safetensors file)"
    case tokenizerJSON = "a tokenizer.json, not model weights (give the directory or the .safetensors file)"
    case json = "a JSON file, not model weights"
    case text = "a text file"

    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> SniffedFormat? {
        func starts(with prefix: String) -> Bool {
            let p = Array(prefix.utf8)
            guard bytes.count >= p.count else { return false }
            for i in 0..<p.count where bytes[i] != p[i] { return false }
            return true
        }
        if starts(with: "version https://git-lfs") { return .gitLFSPointer }
        if bytes.starts(with: GGUFFile.magic) { return .gguf }
        if starts(with: "PK\u{3}\u{4}") { return .pytorchZip }
        if starts(with: TLMFormat.magicString) { return .tlm }
        if starts(with: "<!DOCTYPE") || starts(with: "<html") { return .html }
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) { return .pytorchPickle }
        // Text: the first bytes are all printable or white space (a safetensors file begins
        // with a little-endian length, whose high bytes are zero).
        let head = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 4096)])
        guard !head.isEmpty, head.allSatisfy({ $0 >= 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return nil }
        if head.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) == UInt8(ascii: "{") {
            func mentions(_ key: String) -> Bool { head.firstRange(of: Array("\"\(key)\"".utf8)) != nil }
            if mentions("model_type") || mentions("architectures") { return .configJSON }
            if mentions("added_tokens") || mentions("vocab") { return .tokenizerJSON }
            return .json
        }
        return .text
    }
}
