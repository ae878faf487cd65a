// swift-tools-version: 6.1
// The lane controller agent for radiation portal monitors, its hardware simulator and tests.
import PackageDescription

let package = Package(
    name: "LaneController",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lane-agent", targets: ["lane-agent"]),
        .executable(name: "lane-sim", targets: ["lane-sim"]),
        .executable(name: "lane-collector", targets: ["lane-collector"]),
        // For Benchmarks/ (a package of its own, so that the main build stays light).
        .library(name: "LaneCore", targets: ["LaneCore"]),
        .library(name: "LaneTrace", targets: ["LaneTrace"]),
        .library(name: "LaneUplink", targets: ["LaneUplink"]),
        .library(name: "LaneHAL", targets: ["LaneHAL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries, through their pkg-config files; the shims re-export what Swift cannot import.
        .systemLibrary(
            name: "CModbus", path: "Sources/CModbus", pkgConfig: "libmodbus",
            providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(
            name: "CMosquitto", path: "Sources/CMosquitto", pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(
            name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CCrypt", path: "Sources/CCrypt", pkgConfig: "libcrypt",
            providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(
            name: "CGPIOD", path: "Sources/CGPIOD", pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]),

        // The detection engine: pure Swift, no Foundation, no C, no allocation after init.
        .target(name: "LaneCore", path: "Sources/LaneCore"),
        // Lane trace and decision JSON Lines (shared/contracts/lane-trace.md): pure Swift.
        .target(name: "LaneTrace", dependencies: ["LaneCore"], path: "Sources/LaneTrace"),
        // The only module that calls C: Modbus, GPIO, clocks, ptys.
        .target(name: "LaneHAL", dependencies: ["CModbus", "CGPIOD", "CCrypt", "LaneCore"], path: "Sources/LaneHAL"),
        // Store and forward: the journal of records and the MQTT uplink (with the collector's
        // end-to-end acknowledgement, whose format is in LaneTrace).
        .target(name: "LaneUplink", dependencies: ["LaneCore", "LaneHAL", "LaneTrace", "LaneSeal", "CMosquitto"], path: "Sources/LaneUplink"),
        // Authentic records: the seal (HMAC-SHA256, swift-crypto) the lane puts after every frame
        // and the collector checks, the key files, lane names.
        .target(name: "LaneSeal", dependencies: ["LaneCore", .product(name: "Crypto", package: "swift-crypto")], path: "Sources/LaneSeal"),
        // Wiring: board profile -> hardware -> engine -> outputs and decisions.
        .target(
            name: "LaneAgent",
            dependencies: [
                "CLibXML2", 
                "LaneCore", "LaneTrace", "LaneHAL", "LaneUplink", .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/LaneAgent"),
        // The technicians' serial console: sessions, the command table, logins and audit. It reads
        // the tick's published view and posts requests; its handlers' results are returned to the
        // caller (`ConsoleSession.execute`), so tests assert on them without a terminal.
        .target(
            name: "LaneConsole", dependencies: ["LaneAgent", "LaneCore", "LaneHAL", "LaneTrace", "LaneUplink"],
            path: "Sources/LaneConsole"),
        // Counts heap allocations per thread in the agent process (interposes malloc; the
        // executable only, so that the tick can prove it allocates nothing).
        .target(name: "CAllocCount", path: "Sources/CAllocCount"),
        .executableTarget(
            name: "lane-agent",
            dependencies: ["LaneAgent", "LaneConsole", "LaneUplink", "CAllocCount", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/lane-agent"),

        // The receiving end at the alarm station: subscribe, check sequences, store, export.
        .target(
            name: "LaneCollector", dependencies: ["LaneCore", "LaneTrace", "LaneSeal", "LaneAgent", "LaneHAL", "CSQLite", "CPostgres", "CMosquitto",
                                                  .product(name: "Crypto", package: "swift-crypto"), .product(name: "Yams", package: "Yams")],
            path: "Sources/LaneCollector"),
        .executableTarget(
            name: "lane-collector",
            dependencies: ["LaneCollector", "LaneSeal", "LaneCore", "LaneTrace", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/lane-collector"),

        // The hardware simulator: lane physics (pure) and the process that serves it.
        .target(
            name: "LaneSimCore", dependencies: ["LaneTrace", .product(name: "Yams", package: "Yams")],
            path: "HardwareSim/Sources/LaneSimCore"),
        .executableTarget(
            name: "lane-sim",
            dependencies: [
                "LaneSimCore", "LaneHAL", "CModbus", "LaneAgent", "LaneTrace",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "HardwareSim/Sources/lane-sim"),

        .testTarget(name: "LaneCoreTests", dependencies: ["LaneCore"], path: "Tests/LaneCoreTests"),
        .testTarget(name: "LaneTraceTests", dependencies: ["LaneTrace", "LaneCore"], path: "Tests/LaneTraceTests"),
        .testTarget(
            name: "LaneAgentTests", dependencies: ["LaneAgent", "LaneConsole", "LaneSimCore", "LaneTrace", "LaneCore", "LaneTestSupport"],
            path: "Tests/LaneAgentTests"),
        .testTarget(name: "LaneCollectorTests", dependencies: ["LaneCollector", "LaneAgent", "LaneCore", "LaneTrace", "LaneSeal", "LaneTestSupport"], path: "Tests/LaneCollectorTests"),
        // libFuzzer harnesses (docs/FUZZING.md): fuzzing when built by scripts/fuzz.sh with
        // -sanitize=fuzzer; replaying the committed corpora in the ordinary build.
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        .executableTarget(
            name: "lane-fuzz", dependencies: ["CFuzzDriver", "LaneAgent", "LaneCollector", "LaneConsole", "LaneCore", "LaneHAL", "LaneTrace"],
            path: "Sources/lane-fuzz"),
        // Helpers the test targets share (a small or read-only tmpfs for storage faults).
        .target(name: "LaneTestSupport", path: "Tests/Support"),
        .testTarget(name: "LaneUplinkTests", dependencies: ["LaneUplink", "LaneCore", "LaneTrace", "LaneTestSupport"], path: "Tests/LaneUplinkTests"),
        .testTarget(
            name: "IntegrationTests", dependencies: ["CModbus", "CMosquitto", "LaneTrace", "LaneAgent", "LaneCore", "LaneSeal", "LaneTestSupport"],
            path: "Tests/IntegrationTests"),
    ],
    swiftLanguageModes: [.v6]
)
