// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "TensorLedger",
    products: [
        .library(name: "TensorLedger", targets: ["TensorLedger"]),
        .executable(name: "tensorledger", targets: ["tensorledger"]),
        .executable(name: "tensorledger-bench", targets: ["tensorledger-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "CKernels"
        ),
        // The library in layers, each importing only those below it (scripts/check-layers.sh):
        // Core ← Formats ← Tokenizer ← Models ← Runtime ← TensorLedger (conversion, comparison).
        .target(
            name: "TensorLedgerCore",
            dependencies: ["CZstd", "CKernels"]
        ),
        .target(
            name: "TensorLedgerFormats",
            dependencies: ["TensorLedgerCore", "CKernels"]
        ),
        .target(
            name: "TensorLedgerTokenizer",
            dependencies: ["TensorLedgerCore", "TensorLedgerFormats"]
        ),
        .target(
            name: "TensorLedgerModels",
            dependencies: ["TensorLedgerCore", "TensorLedgerFormats", "TensorLedgerTokenizer", "CKernels"]
        ),
        .target(
            name: "TensorLedgerRuntime",
            dependencies: ["TensorLedgerCore", "TensorLedgerFormats", "TensorLedgerTokenizer", "TensorLedgerModels", "CKernels"]
        ),
        .target(
            name: "TensorLedger",
            dependencies: ["TensorLedgerCore", "TensorLedgerFormats", "TensorLedgerTokenizer", "TensorLedgerModels",
                           "TensorLedgerRuntime", "CKernels"]
        ),
        .executableTarget(
            name: "tensorledger",
            dependencies: [
                "TensorLedger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Not Sources/tensorledger: on a case-insensitive file system (macOS) that is
            // the same folder as Sources/TensorLedger.
            path: "Sources/TensorLedgerCLI"
        ),
        .executableTarget(
            name: "tensorledger-bench",
            dependencies: ["TensorLedger", "CKernels"],
            // A script-like tool with top-level state; Swift 6's isolation checks buy nothing here.
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "tensorledger-fuzz",
            dependencies: ["TensorLedger"]
        ),
        .testTarget(
            name: "TensorLedgerTests",
            dependencies: ["TensorLedger"]
        ),
    ]
)
