// swift-tools-version: 6.1
// Benchmarks of the lane controller (ordo-one/benchmark, with its malloc interposer):
//     cd Benchmarks && swift package --disable-sandbox benchmark
// A package of its own so that the main build and test suite stay light. Figures and the
// commands that reproduce them are in ../docs/PERFORMANCE.md.
import Foundation
import PackageDescription

/// The main package, one directory up; its identity is its directory's name.
let lane = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "LaneBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LaneBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LaneCore", package: lane),
                .product(name: "LaneTrace", package: lane),
                .product(name: "LaneUplink", package: lane),
                .product(name: "LaneHAL", package: lane),
            ],
            path: "Benchmarks/LaneBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
