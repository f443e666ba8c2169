// A model file's weights as the runner reads them: one WeightSource per kind of file.

import TensorLedgerFormats
import TensorLedgerModels

extension ModelFile {
    /// The weights as the runner reads them, with at most `threads` cores preparing them.
    package func weights(config: ModelConfig, threads: Int) -> any WeightSource {
        switch self {
        case .checkpoint(let c): return CheckpointWeights(checkpoint: c, threads: threads)
        case .tlm(let t): return TLMWeights(file: t)
        case .gguf(let g): return GGUFWeights(file: g, config: config, threads: threads)
        }
    }
}
