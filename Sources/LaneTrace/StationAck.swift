// The alarm station's acknowledgement to a lane (docs/UPLINK.md, "End-to-end acknowledgement"):
// one JSON object on `<prefix>/<site>/<lane>/ack`, QoS 1, retained, written by the collector
// after it has committed records to its store and read by the lane, which releases its journal
// only through `through` and re-sends the `missing` ranges. One definition, used by both sides.
//
//     {"epoch":"3f9c0a51d2e47b86","through":1234,"missing":[[1240,1250]],"collector":"station-1"}

import Foundation
import LaneCore

public struct StationAck: Sendable, Equatable {
    /// The journal epoch this acknowledgement is about (a lane ignores any other epoch's).
    public var epoch: UInt64
    /// Every record of the epoch through this sequence is stored (or reported lost by the lane).
    public var through: UInt64
    /// Sequences after `through` the collector lacks and asks for (at most `missingMax` ranges).
    public var missing: [ClosedRange<UInt64>]
    public var collector: String

    public static let missingMax = 64
    public static let bytesMax = 4_096

    public init(epoch: UInt64, through: UInt64, missing: [ClosedRange<UInt64>] = [], collector: String) {
        self.epoch = epoch; self.through = through; self.missing = missing; self.collector = collector
    }

    public func json() -> [UInt8] {
        let ranges = missing.prefix(Self.missingMax).map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",")
        return Array("{\"epoch\":\"\(epochHex(epoch))\",\"through\":\(through),\"missing\":[\(ranges)],\"collector\":\(jsonString(collector))}".utf8)
    }

    /// Reads an acknowledgement; refuses anything malformed with the reason.
    public static func parse(_ bytes: [UInt8]) -> Result<StationAck, StationAckError> {
        guard bytes.count <= bytesMax else { return .failure(.init("\(bytes.count) bytes, more than \(bytesMax)")) }
        guard let any = try? JSONSerialization.jsonObject(with: Data(bytes)), let o = any as? [String: Any] else {
            return .failure(.init("not a JSON object"))
        }
        guard let es = o["epoch"] as? String, es.count == 16, let epoch = UInt64(es, radix: 16) else {
            return .failure(.init("epoch: expected 16 hex digits"))
        }
        guard let t = o["through"] as? NSNumber, let through = UInt64(exactly: t.doubleValue), through <= RecordParser.sequenceMax else {
            return .failure(.init("through: expected a sequence from 0 to \(RecordParser.sequenceMax)"))
        }
        var missing: [ClosedRange<UInt64>] = []
        if let m = o["missing"] {
            guard let list = m as? [Any], list.count <= missingMax else { return .failure(.init("missing: expected a list of at most \(missingMax) ranges")) }
            var after = through
            for (i, item) in list.enumerated() {
                guard let pair = item as? [NSNumber], pair.count == 2,
                      let a = UInt64(exactly: pair[0].doubleValue), let b = UInt64(exactly: pair[1].doubleValue) else {
                    return .failure(.init("missing[\(i)]: expected [first, last]"))
                }
                guard a > after, a <= b, b <= RecordParser.sequenceMax else {
                    return .failure(.init("missing[\(i)]: [\(a), \(b)] is not after \(after) in increasing order"))
                }
                missing.append(a...b)
                after = b
            }
        }
        let who = (o["collector"] as? String) ?? ""
        return .success(StationAck(epoch: epoch, through: through, missing: missing, collector: String(who.prefix(64))))
    }
}

public struct StationAckError: Error, CustomStringConvertible, Sendable, Equatable {
    public var reason: String
    public var description: String { reason }
    init(_ r: String) { reason = r }
}

/// An epoch as people see it: 16 hex digits.
public func epochHex(_ e: UInt64) -> String {
    let s = String(e, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
