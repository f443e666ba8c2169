// Recognises files that are not safetensors so that errors can say what the file is
// (a Git LFS pointer is the most common: the weights were never downloaded).

public enum SniffedFormat: String, Sendable {
    case gitLFSPointer = "a Git LFS pointer file (the weights were not downloaded; run `git lfs pull`)"
    case gguf = "a GGUF file"
    case pytorchZip = "a PyTorch zip archive (torch.save); convert it to safetensors first"
    case pytorchPickle = "a legacy PyTorch pickle file; convert it to safetensors first"
    case tlm = "a TensorLedger .tlm file"
    case html = "an HTML page (a download that returned a web page?)"

    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> SniffedFormat? {
        func starts(with prefix: String) -> Bool {
            let p = Array(prefix.utf8)
            guard bytes.count >= p.count else { return false }
            for i in 0..<p.count where bytes[i] != p[i] { return false }
            return true
        }
        if starts(with: "version https://git-lfs") { return .gitLFSPointer }
        if starts(with: "GGUF") { return .gguf }
        if starts(with: "PK\u{3}\u{4}") { return .pytorchZip }
        if starts(with: TLMFormat.magicString) { return .tlm }
        if starts(with: "<!DOCTYPE") || starts(with: "<html") { return .html }
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) { return .pytorchPickle }
        return nil
    }
}
