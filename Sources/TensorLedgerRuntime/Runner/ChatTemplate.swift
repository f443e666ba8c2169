// Chat templates: how a conversation becomes the text an instruct model was trained on.
// As llama.cpp does, a model's Jinja template is recognised by its turn markers rather
// than run, and each family is rendered by a small explicit function that gives the same
// text as `transformers`' apply_chat_template(…, add_generation_prompt=True) for the
// published templates (tested against it). `plain` is the frame for base models:
//
//   <system text>
//
//   User: <message>
//   Assistant: <reply>
//   User: <message>
//   Assistant:

import TensorLedgerCore
import TensorLedgerFormats
import TensorLedgerTokenizer
import TensorLedgerModels

public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

public enum ChatError: TensorLedgerError, Equatable {
    case unknownTemplate(source: String)
    case missingMarker(template: String, marker: String)
    case emptyMessage
    case systemTooLong(tokens: Int, contextLength: Int)
    case messageTooLong(tokens: Int, contextLength: Int)
    /// `/save` onto a file that exists: a transcript never replaces one.
    case saveWouldReplace(path: String)

    public var category: ErrorCategory {
        switch self {
        case .unknownTemplate, .missingMarker: return .badInput
        case .emptyMessage, .systemTooLong, .messageTooLong, .saveWouldReplace: return .usage
        }
    }
    public var remedy: Remedy? {
        if case .unknownTemplate = self { return .chooseTemplate }
        return nil
    }

    public var description: String {
        switch self {
        case .unknownTemplate(let s):
            return "\(s): the chat template is not one TensorLedger recognises (ChatML, Qwen3, Llama 2 or 3, Mistral, Zephyr, Phi-3, Gemma)"
        case .missingMarker(let t, let m): return "the \(t) template needs the token \"\(m)\", which is not in this model's vocabulary"
        case .emptyMessage: return "the message is empty"
        case .saveWouldReplace(let p): return "\(p) exists: /save writes only a new file; choose another name"
        case .systemTooLong(let n, let c): return "the system prompt takes \(n) tokens, more than the model's context of \(c)"
        case .messageTooLong(let n, let c): return "the conversation's last message takes \(n) tokens with its frame, more than the model's context of \(c)"
        }
    }
}

public enum ChatTemplate: String, CaseIterable, Sendable {
    case chatml, qwen3, llama3, llama2, mistral, zephyr, phi3, gemma, plain

    /// The family of a Jinja chat template, by its markers (llama.cpp's order of tests).
    public static func detect(_ jinja: String) -> ChatTemplate? {
        if jinja.contains("<|im_start|>") { return jinja.contains("</think>") ? .qwen3 : .chatml }
        if jinja.contains("<|start_header_id|>") { return .llama3 }
        if jinja.contains("[INST]") { return jinja.contains("<<SYS>>") ? .llama2 : .mistral }
        if jinja.contains("<|user|>") { return jinja.contains("<|end|>") ? .phi3 : .zephyr }
        if jinja.contains("<start_of_turn>") { return .gemma }
        return nil
    }

    /// The special tokens the template writes, which the vocabulary must hold.
    package func markers(bos: String, eos: String) -> [String] {
        switch self {
        case .chatml, .qwen3: return ["<|im_start|>", "<|im_end|>"]
        case .llama3: return ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", bos]
        case .llama2, .mistral: return [bos, eos]
        case .zephyr: return ["<|user|>", "<|assistant|>", eos]
        case .phi3: return ["<|user|>", "<|assistant|>", "<|end|>"]
        case .gemma: return ["<start_of_turn>", "<end_of_turn>", bos]
        case .plain: return []
        }
    }

    /// Where the model's reply ends: the end-of-turn marker (tokens), or for `plain` the
    /// text that starts the next user line.
    package func endOfTurn(eos: String) -> (tokens: [String], text: String?) {
        switch self {
        case .chatml, .qwen3: return (["<|im_end|>"], nil)
        case .llama3: return (["<|eot_id|>"], nil)
        case .llama2, .mistral, .zephyr: return ([eos], nil)
        case .phi3: return (["<|end|>"], nil)
        case .gemma: return (["<end_of_turn>"], nil)
        case .plain: return ([], "\nUser:")
        }
    }

    /// The conversation as text, ending where the assistant's next reply begins.
    /// `defaultSystem` is what the model's own template says when no system prompt is given.
    public func render(system: String?, turns: [ChatMessage], bos: String = "", eos: String = "", defaultSystem: String? = nil) -> String {
        var out = ""
        switch self {
        case .chatml:
            if let s = system ?? defaultSystem { out += "<|im_start|>system\n\(s)<|im_end|>\n" }
            for m in turns { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            out += "<|im_start|>assistant\n"
        case .qwen3:
            // ChatML, with no default system prompt; a reply in the history keeps only what
            // follows its reasoning (after the last </think>, leading newlines off).
            if let s = system { out += "<|im_start|>system\n\(s)<|im_end|>\n" }
            for m in turns {
                var content = Substring(m.content)
                if m.role == .assistant, let end = content.ranges(of: "</think>").last {
                    content = content[end.upperBound...].drop { $0 == "\n" }
                }
                out += "<|im_start|>\(m.role.rawValue)\n\(content)<|im_end|>\n"
            }
            out += "<|im_start|>assistant\n"
        case .llama3:
            out += bos
            if let s = system { out += "<|start_header_id|>system<|end_header_id|>\n\n\(strip(s))<|eot_id|>" }
            for m in turns { out += "<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n\(strip(m.content))<|eot_id|>" }
            out += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        case .llama2:
            for (i, m) in turns.enumerated() {
                if m.role == .user {
                    let content = i == 0 && system != nil ? "<<SYS>>\n\(system!)\n<</SYS>>\n\n\(m.content)" : m.content
                    out += "\(bos)[INST] \(strip(content)) [/INST]"
                } else {
                    out += " \(strip(m.content)) \(eos)"
                }
            }
        case .mistral:
            // Mistral's template has no system role: the system text leads the first message.
            out += bos
            for (i, m) in turns.enumerated() {
                if m.role == .user {
                    out += "[INST] \(i == 0 && system != nil ? system! + "\n\n" + m.content : m.content) [/INST]"
                } else {
                    out += m.content + eos
                }
            }
        case .zephyr:
            if let s = system { out += "<|system|>\n\(s)\(eos)\n" }
            for m in turns { out += "<|\(m.role.rawValue)|>\n\(m.content)\(eos)\n" }
            out += "<|assistant|>\n"
        case .phi3:
            if let s = system { out += "<|system|>\n\(s)<|end|>\n" }
            for m in turns { out += "<|\(m.role.rawValue)|>\n\(m.content)<|end|>\n" }
            out += "<|assistant|>\n"
        case .gemma:
            // Gemma has no system role either: as Gemma 3's template does, it leads the first message.
            out += bos
            for (i, m) in turns.enumerated() {
                let content = i == 0 && system != nil ? system! + "\n\n" + m.content : m.content
                out += "<start_of_turn>\(m.role == .assistant ? "model" : "user")\n\(strip(content))<end_of_turn>\n"
            }
            out += "<start_of_turn>model\n"
        case .plain:
            if let s = system { out += s + "\n\n" }
            for m in turns { out += (m.role == .user ? "User: " : "Assistant: ") + m.content + "\n" }
            out += "Assistant:"
        }
        return out
    }

    /// The default system prompt a ChatML template writes when none is given (SmolLM2's
    /// and Qwen2.5's do): the literal text after "<|im_start|>system\n" up to "<|im_end|>".
    public static func defaultSystem(inJinja jinja: String) -> String? {
        for marker in ["<|im_start|>system\\n", "<|im_start|>system\n"] {
            guard let start = jinja.firstRange(of: marker), let end = jinja[start.upperBound...].firstRange(of: "<|im_end|>") else { continue }
            let literal = String(jinja[start.upperBound..<end.lowerBound])
            // A literal, not an expression: no quotes, braces or concatenation inside.
            guard !literal.isEmpty, !literal.contains(where: { "'\"{}+".contains($0) }) else { return nil }
            return literal.replacing("\\n", with: "\n")
        }
        return nil
    }

    /// Python's str.strip() (Jinja's `trim`): whitespace off both ends.
    private func strip(_ s: String) -> String {
        let isSpace = { (u: Unicode.Scalar) in u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
        var scalars = Substring(s).unicodeScalars[...]
        while let f = scalars.first, isSpace(f) { scalars.removeFirst() }
        while let l = scalars.last, isSpace(l) { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
