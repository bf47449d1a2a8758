package io.afasim.controller;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of the NBD server: written by the network thread only (single writer, ordered stores), readable from
 * any thread (stats, tests). Bad requests are counted by kind.
 */
public final class NbdCounters {
    public static final int CONNECTIONS_ACCEPTED = 0;
    public static final int CONNECTIONS_REFUSED_LIMIT = 1;
    public static final int CONNECTIONS_CLOSED = 2;
    public static final int HANDSHAKES_COMPLETED = 3;
    public static final int HANDSHAKE_TIMEOUTS = 4;
    public static final int BAD_CLIENT_FLAGS = 5;
    public static final int BAD_OPTION_MAGIC = 6;
    public static final int UNKNOWN_OPTIONS = 7;
    public static final int INVALID_OPTIONS = 8;
    public static final int OVERSIZE_OPTIONS = 9;
    public static final int UNKNOWN_EXPORTS = 10;
    public static final int BAD_REQUEST_MAGIC = 11;
    public static final int UNKNOWN_COMMANDS = 12;
    public static final int BAD_COMMAND_FLAGS = 13;
    public static final int OUT_OF_RANGE = 14;
    public static final int OVERSIZE_REQUESTS = 15;
    public static final int OVERSIZE_WRITES_CLOSED = 16;
    public static final int READ_ONLY_VIOLATIONS = 17;
    public static final int OFFLINE_REQUESTS = 18;
    public static final int BLOCK_STATUS_WITHOUT_CONTEXT = 19;
    public static final int REQUESTS_SUBMITTED = 20;
    public static final int REQUESTS_COMPLETED = 21;
    public static final int BACKEND_ERRORS = 22;
    public static final int BACKEND_BAD_ERRNO = 23;
    public static final int BYTES_READ = 24;
    public static final int BYTES_WRITTEN = 25;
    public static final int STALLS_REQUEST_SLOT = 26;
    public static final int STALLS_BUFFER = 27;
    public static final int CONNECTION_IO_ERRORS = 28;
    public static final int UNEXPECTED_ERRORS = 29;
    public static final int DISCONNECTS = 30;
    public static final int LIST_TRUNCATED = 31;
    public static final int COUNT = 32;

    private static final String[] NAMES = {
        "connectionsAccepted", "connectionsRefusedLimit", "connectionsClosed", "handshakesCompleted",
        "handshakeTimeouts", "badClientFlags", "badOptionMagic", "unknownOptions", "invalidOptions",
        "oversizeOptions", "unknownExports", "badRequestMagic", "unknownCommands", "badCommandFlags", "outOfRange",
        "oversizeRequests", "oversizeWritesClosed", "readOnlyViolations", "offlineRequests",
        "blockStatusWithoutContext", "requestsSubmitted", "requestsCompleted", "backendErrors", "backendBadErrno",
        "bytesRead", "bytesWritten", "stallsRequestSlot", "stallsBuffer", "connectionIoErrors", "unexpectedErrors",
        "disconnects", "listTruncated",
    };

    private final AtomicLongArray values = new AtomicLongArray(COUNT);

    void increment(final int id) {
        values.lazySet(id, values.get(id) + 1);
    }

    void add(final int id, final long delta) {
        values.lazySet(id, values.get(id) + delta);
    }

    public long get(final int id) {
        return values.get(id);
    }

    public static String name(final int id) {
        return NAMES[id];
    }

    /** A snapshot (not for the data path). */
    public Map<String, Long> snapshot() {
        final Map<String, Long> snapshot = new LinkedHashMap<>();
        for (int i = 0; i < COUNT; i++) {
            snapshot.put(NAMES[i], values.get(i));
        }
        return snapshot;
    }

    @Override
    public String toString() {
        return snapshot().toString();
    }
}
