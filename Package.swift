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
        .target(
            name: "TensorLedger",
            dependencies: ["CZstd", "CKernels"]
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
