// What tokenizer_config.json (and chat_template.jinja beside it) says beyond
// tokenizer.json: the chat template and the names of the BOS and EOS tokens. Read from a
// model directory, or from the copies a .tlm file embeds.
//
// Real files differ: the template is a string, or a list of named templates (the one
// named "default" is used), or absent from tokenizer_config.json and written as
// chat_template.jinja beside it (transformers 5); special tokens are strings or
// {"content": …} objects.

import TensorLedgerCore
import TensorLedgerFormats

public struct TokenizerConfig: Sendable, Equatable {
    public var chatTemplate: String?
    public var bosToken: String?
    public var eosToken: String?

    public init(chatTemplate: String? = nil, bosToken: String? = nil, eosToken: String? = nil) {
        self.chatTemplate = chatTemplate
        self.bosToken = bosToken
        self.eosToken = eosToken
    }

    package static let configFile = Checkpoint.tokenizerConfigName
    package static let templateFile = Checkpoint.chatTemplateName

    /// From tokenizer_config.json's bytes, and chat_template.jinja's when there is one.
    public init(configJSON: [UInt8]?, templateFile: [UInt8]?, source: String) throws(TokenizerError) {
        if let configJSON {
            let root: JSONValue
            do { root = try JSON.parse(configJSON) } catch { throw .invalid(source: source, reason: "tokenizer_config.json is not valid JSON: \(error)") }
            guard let o = root.object else { throw .invalid(source: source, reason: "tokenizer_config.json is not a JSON object") }
            func token(_ key: String) -> String? { o[key]?.string ?? o[key]?.object?["content"]?.string }
            bosToken = token("bos_token")
            eosToken = token("eos_token")
            switch o["chat_template"] {
            case .string(let t)?: chatTemplate = t
            case .array(let list)?:
                let named = list.compactMap { $0.object }
                chatTemplate = (named.first { $0["name"]?.string == "default" } ?? named.first)?["template"]?.string
            default: break
            }
        }
        if let templateFile {
            guard let t = String(validating: templateFile, as: UTF8.self) else { throw .invalid(source: source, reason: "chat_template.jinja is not UTF-8") }
            chatTemplate = t
        }
    }
}
