// Test helpers shared by the test targets (a library target: test targets cannot share files).

import Foundation

/// A tmpfs of `kib` KiB mounted on a fresh directory (read-only if asked); unmounted by `close`.
public final class SmallFilesystem {
    public let path: String
    public init(kib: Int, readOnly: Bool = false) throws {
        path = NSTemporaryDirectory() + "smallfs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let rc = Self.sh(["mount", "-t", "tmpfs", "-o", "size=\(kib)k\(readOnly ? ",ro" : "")", "tmpfs", path])
        if rc != 0 { throw TestFailure("cannot mount a \(kib) KiB tmpfs on \(path) (exit \(rc)): these tests need root, as CI has") }
    }
    public func remountReadOnly(_ ro: Bool) -> Int32 { Self.sh(["mount", "-o", "remount,\(ro ? "ro" : "rw")", path]) }
    /// Fills the file system to the last byte with a file (a runaway log, say); returns its path
    /// and how many bytes it took, or nil if it could not be made.
    @discardableResult
    public func fill() -> (path: String, bytes: Int)? {
        let filler = path + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return nil }
        defer { Foundation.close(fd) }
        let block = [UInt8](repeating: 0, count: 4_096)
        var size = 4_096
        var total = 0
        while size >= 1 {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress, size) }
            if n <= 0 { size /= 2 } else { total += n }
        }
        fsync(fd)
        return (filler, total)
    }

    /// Free bytes on the file system now.
    public var freeBytes: Int {
        var st = statvfs()
        return statvfs(path, &st) == 0 ? Int(st.f_bavail) * Int(st.f_frsize) : -1
    }
    public func close() { _ = Self.sh(["umount", "-l", path]); try? FileManager.default.removeItem(atPath: path) }
    @discardableResult
    public static func sh(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

public struct TestFailure: Error, CustomStringConvertible { public let description: String; public init(_ d: String) { description = d } }

