// Opening whatever a user names (a safetensors file, a sharded index, a directory,
// later a .tlm file) for the header-only commands.

public enum ModelSource {
    /// The inspect report of any supported model file.
    public static func inspect(_ path: String) throws -> InspectReport {
        InspectReport(checkpoint: try Checkpoint.open(path))
    }

    /// The ledger of any supported model file, with config.json beside it when present,
    /// and the warnings met while opening it.
    public static func ledger(_ path: String) throws -> (Ledger, [String]) {
        let checkpoint = try Checkpoint.open(path)
        let config = try checkpoint.sidecar("config.json").map { try ModelConfig.load($0) }
        let ledger = Ledger(tensors: checkpoint.tensors.map(\.info), config: config, source: checkpoint.path)
        return (ledger, checkpoint.warnings)
    }
}
