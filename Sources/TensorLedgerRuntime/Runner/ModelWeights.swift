// A model file's weights as the runner reads them: one WeightSource per kind of file.

import TensorLedgerFormats
import TensorLedgerModels

extension ModelFile {
    /// The weights as the runner reads them.
    package func weights(config: ModelConfig) -> any WeightSource {
        switch self {
        case .checkpoint(let c): return CheckpointWeights(checkpoint: c)
        case .tlm(let t): return TLMWeights(file: t)
        case .gguf(let g): return GGUFWeights(file: g, config: config)
        }
    }
}
