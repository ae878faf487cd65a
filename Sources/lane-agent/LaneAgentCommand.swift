// lane-agent: the lane controller. `run` screens a lane; `replay` runs a trace through the same
// engine; `check-board` validates a board profile.

import ArgumentParser
import Foundation
import LaneAgent
import LaneCore

@main
struct LaneAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lane-agent",
        abstract: "Lane controller agent for radiation portal monitors.",
        subcommands: [Run.self, ReplayCommand.self, CheckBoard.self])
}

func loadBoard(_ path: String) throws -> BoardProfile {
    do { return try BoardProfile.load(path: path) } catch let e as ProfileError {
        FileHandle.standardError.write(Data("lane-agent: \(e.message)\n".utf8))
        throw ExitCode(2)
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a lane trace through the detection engine; print one decision per occupancy (JSON Lines).")

    @Argument(help: "The trace (JSON Lines), or - for standard input.") var trace: String
    @Option(help: "A board profile whose detection settings to use.") var board: String?

    func run() throws {
        let profile = try board.map(loadBoard)
        let fd: Int32
        if trace == "-" { fd = 0 } else {
            fd = open(trace, O_RDONLY)
            guard fd >= 0 else {
                FileHandle.standardError.write(Data("lane-agent: \(trace): cannot open the trace: \(String(cString: strerror(errno)))\n".utf8))
                throw ExitCode(2)
            }
        }
        var out = Data()
        do {
            try Replay.run(fd: fd, board: profile) { line in
                out.append(contentsOf: line.utf8)
                out.append(0x0A)
                if out.count > 1 << 16 { FileHandle.standardOutput.write(out); out.removeAll(keepingCapacity: true) }
            }
        } catch {
            FileHandle.standardOutput.write(out)
            FileHandle.standardError.write(Data("lane-agent: \(trace == "-" ? "standard input" : trace): \(error)\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(out)
    }
}

struct CheckBoard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-board", abstract: "Validate a board profile and print what it sets.")

    @Argument(help: "The board profile (YAML).") var board: String

    func run() throws {
        let p = try loadBoard(board)
        print("\(board): OK: board \(p.board), lane \(p.site)/\(p.laneID), \(p.engine.panelCount) panels (\(p.panelLabels.joined(separator: ",")))")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Screen the lane described by a board profile.")
    @Option(help: "The board profile (YAML).") var board: String
    func run() throws {}
}
