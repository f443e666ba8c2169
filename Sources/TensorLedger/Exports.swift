// The library's front: importing TensorLedger brings every layer, so the command line and
// other clients see one module. The layers themselves import only what is below them.

@_exported import TensorLedgerCore
@_exported import TensorLedgerFormats
@_exported import TensorLedgerTokenizer
@_exported import TensorLedgerModels
@_exported import TensorLedgerRuntime
