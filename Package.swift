// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "TensorLedger",
    products: [
        .library(name: "TensorLedger", targets: ["TensorLedger"]),
        .executable(name: "tensorledger", targets: ["tensorledger"]),
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
            ]
        ),
        .testTarget(
            name: "TensorLedgerTests",
            dependencies: ["TensorLedger"]
        ),
    ]
)
