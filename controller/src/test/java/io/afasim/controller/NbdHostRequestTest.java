package io.afasim.controller;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HostRequest lifecycle (exactly-once completion) and BlockStatusSink merging / clamping / limits. */
class NbdHostRequestTest {
    @Test
    void completesExactlyOnce() {
        final List<HostRequest> completed = new ArrayList<>();
        final HostRequest request = new HostRequest(completed::add, 4);
        request.prepare(1, HostRequest.READ, 0, 4096, 512, 77, ByteBuffer.allocateDirect(1024));
        assertEquals(512, request.data().capacity());
        assertThrows(IllegalStateException.class, () -> request.complete(0), "not submitted yet");
        request.markSubmitted();
        assertThrows(IllegalStateException.class, request::markSubmitted);
        request.complete(HostRequest.EIO);
        assertEquals(1, completed.size());
        assertEquals(HostRequest.EIO, request.errno());
        assertThrows(IllegalStateException.class, () -> request.complete(0));
        assertEquals(1, completed.size());
        request.prepare(1, HostRequest.FLUSH, 0, 0, 0, 78, null);
        assertEquals(0, request.data().capacity());
        assertEquals(0, request.errno());
    }

    @Test
    void rejectsTooSmallBufferAndPrepareWhileSubmitted() {
        final HostRequest request = new HostRequest(r -> { }, 4);
        assertThrows(IllegalArgumentException.class,
            () -> request.prepare(1, HostRequest.WRITE, 0, 0, 4096, 1, ByteBuffer.allocateDirect(512)));
        request.prepare(1, HostRequest.TRIM, 0, 0, 4096, 1, null);
        request.markSubmitted();
        assertThrows(IllegalStateException.class, () -> request.prepare(1, HostRequest.TRIM, 0, 0, 4096, 2, null));
    }

    @Test
    void blockStatusSinkMergesClampsAndLimits() {
        final BlockStatusSink sink = new BlockStatusSink(3);
        sink.reset(10_000, 3);
        assertTrue(sink.add(1000, 3));
        assertTrue(sink.add(1000, 3)); // merged
        assertEquals(1, sink.count());
        assertEquals(2000, sink.lengthBytes(0));
        assertTrue(sink.add(500, 0));
        assertFalse(sink.add(500, 3)); // third extent: limit reached
        assertFalse(sink.add(500, 1)); // a fourth distinct extent is refused
        assertEquals(3, sink.count());
        assertTrue(sink.isFull());

        sink.reset(4096, 3);
        assertFalse(sink.add(1 << 20, 0)); // clamped to the request
        assertEquals(4096, sink.totalLengthBytes());
        assertEquals(0, sink.remainingBytes());

        sink.reset(4096, 1); // REQ_ONE
        assertFalse(sink.add(512, 0));
        assertFalse(sink.add(512, 3));
        assertEquals(1, sink.count());
        assertThrows(IllegalArgumentException.class, () -> sink.add(0, 0));
    }

    @Test
    void exportInfoValidatesBlockSizes() {
        assertThrows(IllegalArgumentException.class,
            () -> new ExportInfo(1, "x", "", 1024, false, true, true, 3, 4096, 8192));
        assertThrows(IllegalArgumentException.class,
            () -> new ExportInfo(1, "x", "", 1024, false, true, true, 512, 256, 8192));
        assertThrows(IllegalArgumentException.class,
            () -> new ExportInfo(1, "x", "", 1024, false, true, true, 512, 4096, 4000));
        assertThrows(IllegalArgumentException.class,
            () -> new ExportInfo(1, "x", "", -1, false, true, true, 512, 4096, 8192));
        assertEquals("", new ExportInfo(1, "x", null, 0, false, true, true, 1, 1, 1).description());
    }
}
