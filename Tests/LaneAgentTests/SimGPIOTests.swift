// Proves that the simulator GPIO client refuses a malformed EDGE line instead of trapping (a time
// of 20 digits overflowed Int64 and crashed the agent), counts it, and goes on with the next line.

import Foundation
import LaneHAL
import Testing

@Suite struct SimGPIOTests {
    @Test("an EDGE time of more than 18 digits is refused and counted; the lines around it are read")
    func overlongNumber() throws {
        let path = NSTemporaryDirectory() + "gpio-\(UUID().uuidString).sock"
        let listener = try Terminal.listenUnix(path)
        defer { close(listener); unlink(path) }
        let client = SimGPIOClient(path: path)
        client.ensureConnected()
        #expect(client.isConnected)
        let peer = accept(listener, nil, nil)
        #expect(peer >= 0)
        defer { close(peer) }
        let text = "EDGE 0 1 1000\nEDGE 0 1 99999999999999999999\nEDGE 1 1 2000\n"
        _ = Array(text.utf8).withUnsafeBytes { write(peer, $0.baseAddress!, $0.count) }
        usleep(50_000)
        var edges = EdgeBuffer()
        _ = client.drainEdges(into: &edges)
        #expect(edges.count == 2)
        #expect(edges.edges[0].tUs == 1000 && edges.edges[1].tUs == 2000 && edges.edges[1].beam == 1)
        #expect(client.invalidLines == 1)
    }
}
