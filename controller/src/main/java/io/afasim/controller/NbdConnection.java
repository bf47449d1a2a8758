package io.afasim.controller;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static io.afasim.controller.NbdProtocol.*;

/**
 * One NBD client connection, driven by the server's network thread only (no locks): non-blocking handshake
 * (fixed newstyle, option haggling), then transmission: request headers are parsed from {@link #in}, WRITE
 * payloads land in a pooled data buffer, requests go to the backend, and completions come back (through the
 * server's completion queue) to a reply ring. The ring is written out once per duty cycle of the network thread
 * ({@link NbdServer} flushes every connection that queued replies): up to {@link #REPLY_BATCH_MAX} replies go in
 * one gathering write (each reply's header from its slot's own header buffer, then its read data), so a burst of
 * completions costs one syscall, not one per reply.
 * <p>
 * Resources per connection are bounded: {@code requestsInFlightMax} request slots (a slot is held from header
 * to reply sent); when slots or data buffers run out the connection stops reading (TCP back-pressure) and is
 * resumed when one is released. The object is reused after close once the backend returned every request.
 *
 * <pre>
 * CLIENT_FLAGS --4 bytes--> OPTIONS --GO / EXPORT_NAME--> TRANSMISSION --DISC, drained--> CLOSED
 *      any phase: wrong magic, bad client flags, I/O error, oversize unskippable WRITE, ABORT --> CLOSED
 * </pre>
 */
final class NbdConnection {
    static final int PHASE_CLIENT_FLAGS = 0;
    static final int PHASE_OPTIONS = 1;
    static final int PHASE_TRANSMISSION = 2;
    static final int PHASE_CLOSED = 3;

    /** Largest option payload parsed (export name <= 4096 bytes plus meta context queries). */
    static final int OPTION_DATA_MAX_BYTES = 16 * 1024;
    /** Input buffer: request headers and small payloads batched per read; holds any whole option. */
    static final int INPUT_BYTES = 64 * 1024;
    /** Handshake replies (one option's replies must fit; LIST is truncated to it). */
    static final int CONTROL_OUTPUT_BYTES = 64 * 1024;
    static final int ERROR_MESSAGE_MAX_BYTES = 128;
    /** Replies in one gathering write at most (two buffers each: header, read data). */
    static final int REPLY_BATCH_MAX = 64;
    /** A slot's own reply header: structured header (20) + error (4 + 2 + message) or read offset (8). */
    static final int SLOT_REPLY_HEADER_BYTES = STRUCTURED_REPLY_HEADER_BYTES + 6 + ERROR_MESSAGE_MAX_BYTES;
    private static final byte[] ZEROES_124 = new byte[124];

    // Fixed error texts (no allocation on the error path).
    private static final byte[] MSG_UNKNOWN_COMMAND = ascii("afasim: unknown command");
    private static final byte[] MSG_BAD_FLAGS = ascii("afasim: command flag not valid for this command");
    private static final byte[] MSG_OFFLINE = ascii("afasim: export is offline");
    private static final byte[] MSG_READ_ONLY = ascii("afasim: export is read-only");
    private static final byte[] MSG_NO_CONTEXT = ascii("afasim: no metadata context negotiated");
    private static final byte[] MSG_OVERSIZE = ascii("afasim: request larger than the maximum block size");
    private static final byte[] MSG_ZERO_LENGTH = ascii("afasim: zero-length block status");
    private static final byte[] MSG_OUT_OF_RANGE = ascii("afasim: request beyond the end of the export");
    private static final byte[] MSG_EPERM = ascii("afasim: operation not permitted");
    private static final byte[] MSG_EIO = ascii("afasim: I/O error");
    private static final byte[] MSG_ENOMEM = ascii("afasim: out of memory");
    private static final byte[] MSG_EINVAL = ascii("afasim: invalid argument");
    private static final byte[] MSG_ENOSPC = ascii("afasim: no space left");
    private static final byte[] MSG_EOVERFLOW = ascii("afasim: value too large");
    private static final byte[] MSG_ENOTSUP = ascii("afasim: operation not supported");
    private static final byte[] MSG_ESHUTDOWN = ascii("afasim: shutting down");

    private final NbdServer server;
    /** The loop (thread) serving it; read by completing threads to find where the request goes back. */
    volatile NbdLoop loop;
    /** Set when the export picked is served on another loop: no more input is parsed here until it moved. */
    private NbdLoop moveTarget;
    private final NbdServer.Context ctx;
    private final NbdCounters counters;
    private final ByteBuffer in = ByteBuffer.allocateDirect(INPUT_BYTES);
    private final ByteBuffer ctl = ByteBuffer.allocateDirect(CONTROL_OUTPUT_BYTES);
    /** BLOCK_STATUS reply headers (many extents): at most one such reply per batch uses it. */
    private final ByteBuffer replyHeader;
    /** Every other reply's header, one per request slot (slices of one direct buffer). */
    private final ByteBuffer[] slotReplyHeaders;
    private final ByteBuffer[] gather = new ByteBuffer[2 * REPLY_BATCH_MAX];
    private int gatherHead;
    private int gatherCount;
    /** Replies of the batch being written, oldest first, and the index of each one's last buffer in gather. */
    private final HostRequest[] sendBatch = new HostRequest[REPLY_BATCH_MAX];
    private final int[] sendBatchLastBuffer = new int[REPLY_BATCH_MAX];
    private int sendHead;
    private int sendCount;
    private final HostRequest[] requests;
    private final int[] freeSlots;
    private int freeSlotCount;
    private final HostRequest[] replyRing;
    private final int replyMask;
    private long replyHead;
    private long replyTail;

    private SocketChannel channel;
    private SelectionKey key;
    private int phase = PHASE_CLOSED;
    private long acceptedNs;
    private int backendInFlight;

    // handshake results
    private boolean clientNoZeroes;
    private boolean structuredReplies;
    private boolean baseAllocation;
    private String metaContextExportName;
    private ExportInfo export;
    private int requestDataMaxBytes;
    private int optionDiscardCode;
    private long optionDiscardRemaining;

    // transmission state
    private HostRequest receiving;
    private long payloadRemaining;
    private HostRequest discardReply;
    private long discardRemaining;
    private boolean finishing;
    private boolean stalled;
    /** True while in the server's resume queue (at most once there). */
    boolean resumeQueued;
    /** True while in the server's flush queue (at most once there). */
    boolean flushQueued;
    /** True while in the server's buffer waiter list (at most once there). */
    boolean waitingForBuffer;
    int activeIndex = -1;
    private byte[] validationMessage;

    NbdConnection(final NbdServer server, final NbdServer.Context ctx, final NbdCounters counters) {
        this.server = server;
        this.ctx = ctx;
        this.counters = counters;
        final int slots = ctx.requestsInFlightPerConnectionMax();
        this.requests = new HostRequest[slots];
        this.freeSlots = new int[slots];
        for (int i = 0; i < slots; i++) {
            final HostRequest request = new HostRequest(server.completionHandler(), ctx.blockStatusExtentsMax());
            request.connection = this;
            request.slotIndex = i;
            requests[i] = request;
        }
        int ringCapacity = 1;
        while (ringCapacity < slots) {
            ringCapacity <<= 1;
        }
        this.replyRing = new HostRequest[ringCapacity];
        this.replyMask = ringCapacity - 1;
        this.replyHeader = ByteBuffer.allocateDirect(
            STRUCTURED_REPLY_HEADER_BYTES + 8 + 6 + ERROR_MESSAGE_MAX_BYTES + 4 + 8 * ctx.blockStatusExtentsMax());
        final ByteBuffer headers = ByteBuffer.allocateDirect(slots * SLOT_REPLY_HEADER_BYTES);
        this.slotReplyHeaders = new ByteBuffer[slots];
        for (int i = 0; i < slots; i++) {
            slotReplyHeaders[i] = headers.slice(i * SLOT_REPLY_HEADER_BYTES, SLOT_REPLY_HEADER_BYTES);
        }
    }

    // ------------------------------------------------------------------ lifecycle

    void open(final SocketChannel channel, final SelectionKey key, final long nowNs) throws IOException {
        if (phase != PHASE_CLOSED || backendInFlight != 0) {
            throw new IllegalStateException("connection reused while busy: phase=" + phase + " inFlight=" + backendInFlight);
        }
        this.channel = channel;
        this.key = key;
        this.moveTarget = null;
        this.acceptedNs = nowNs;
        in.clear();
        ctl.clear();
        freeSlotCount = requests.length;
        for (int i = 0; i < requests.length; i++) {
            freeSlots[i] = requests.length - 1 - i;
        }
        replyHead = 0;
        replyTail = 0;
        clientNoZeroes = false;
        structuredReplies = false;
        baseAllocation = false;
        metaContextExportName = null;
        export = null;
        requestDataMaxBytes = 0;
        optionDiscardRemaining = 0;
        receiving = null;
        payloadRemaining = 0;
        discardReply = null;
        discardRemaining = 0;
        sendHead = 0;
        sendCount = 0;
        gatherHead = 0;
        gatherCount = 0;
        finishing = false;
        stalled = false;
        phase = PHASE_CLIENT_FLAGS;
        ctl.putLong(NBDMAGIC).putLong(IHAVEOPT).putShort((short)(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        flushOutput();
    }

    boolean isClosed() {
        return phase == PHASE_CLOSED;
    }

    SocketChannel channel() {
        return channel;
    }

    NbdLoop moveTarget() {
        return moveTarget;
    }

    /** In transmission on {@code exportId} and not already moving. */
    boolean servesExport(final int exportId) {
        return phase == PHASE_TRANSMISSION && moveTarget == null && export.exportId() == exportId;
    }

    /** Its export is served on {@code target} now: no more input is parsed here; the loop hands it over. */
    void moveTo(final NbdLoop target) {
        moveTarget = target;
        updateInterest();
    }

    /** Its loop let it go (to another loop): the key of that loop's selector is cancelled. */
    void detached() {
        if (key != null) {
            key.cancel();
            key = null;
        }
    }

    /** Registered with its new loop's selector (that loop's thread): what was sent or received meanwhile is handled. */
    void arrived(final SelectionKey newKey) throws IOException {
        key = newKey;
        moveTarget = null;
        flushOutput();
        if (stalled) {
            loop.queueResume(this); // it waited for a slot or buffer on its old loop: retried here
        } else if (phase != PHASE_CLOSED && in.position() > 0) {
            parseInput(); // requests the client pipelined behind its NBD_OPT_GO
        } else {
            updateInterest();
        }
    }

    boolean isRecyclable() {
        return phase == PHASE_CLOSED && backendInFlight == 0;
    }

    boolean isHandshakeExpired(final long nowNs) {
        return phase < PHASE_TRANSMISSION && nowNs - (acceptedNs + ctx.handshakeTimeoutNs()) >= 0;
    }

    /** Stops taking requests; closes once every accepted request has been answered (DISC, ABORT, shutdown). */
    void beginFinish() {
        if (phase == PHASE_CLOSED) {
            return;
        }
        if (phase < PHASE_TRANSMISSION && !finishing && ctl.position() == 0) {
            close();
            return;
        }
        finishing = true;
        if (receiving != null) {
            releaseRequest(receiving);
            receiving = null;
            payloadRemaining = 0;
        }
        if (discardReply != null) {
            releaseRequest(discardReply);
            discardReply = null;
            discardRemaining = 0;
        }
        checkFinished();
        updateInterest();
    }

    void close() {
        if (phase == PHASE_CLOSED) {
            return;
        }
        phase = PHASE_CLOSED;
        counters.increment(NbdCounters.CONNECTIONS_CLOSED);
        if (key != null) {
            key.cancel();
        }
        try {
            channel.close();
        } catch (final IOException ignore) {
            // closing anyway
        }
        if (receiving != null) {
            releaseRequest(receiving);
            receiving = null;
        }
        if (discardReply != null) {
            releaseRequest(discardReply);
            discardReply = null;
        }
        while (sendCount > 0) {
            releaseRequest(sendBatch[sendHead]);
            sendBatch[sendHead++] = null;
            sendCount--;
        }
        while (replyHead != replyTail) {
            final HostRequest request = pollReply();
            releaseRequest(request);
        }
        loop.onConnectionClosed(this);
    }

    // ------------------------------------------------------------------ network events

    void onReadable() throws IOException {
        if (phase == PHASE_CLOSED || finishing || stalled || moveTarget != null) {
            return;
        }
        if (receiving != null && in.position() == 0) {
            readPayloadDirect();
            return;
        }
        final int bytesRead = channel.read(in);
        if (bytesRead < 0) {
            close();
            return;
        }
        if (bytesRead > 0) {
            parseInput();
        }
    }

    void onWritable() throws IOException {
        if (phase == PHASE_CLOSED) {
            return;
        }
        flushOutput();
        if (phase == PHASE_OPTIONS && ctl.position() == 0 && in.position() > 0) {
            parseInput();
        }
    }

    /** Called after a slot or buffer was released while the connection was stalled. */
    void resume() throws IOException {
        resumeQueued = false;
        if (phase == PHASE_CLOSED || !stalled) {
            return;
        }
        stalled = false;
        parseInput();
        updateInterest();
    }

    /** A request came back from the backend (network thread, via the completion queue). */
    void onBackendComplete(final HostRequest request) throws IOException {
        backendInFlight--;
        if (request.errno() != 0) {
            counters.increment(NbdCounters.BACKEND_ERRORS);
        }
        if (phase == PHASE_CLOSED) {
            releaseRequest(request);
            if (backendInFlight == 0) {
                loop.recycleLater(this);
            }
            return;
        }
        enqueueReply(request);
    }

    // ------------------------------------------------------------------ input parsing

    private void readPayloadDirect() throws IOException {
        final ByteBuffer buffer = receiving.dataByteBuffer;
        final int lengthBytes = (int)receiving.lengthBytes();
        buffer.limit(lengthBytes).position(lengthBytes - (int)payloadRemaining);
        final int bytesRead = channel.read(buffer);
        if (bytesRead < 0) {
            close();
            return;
        }
        payloadRemaining -= bytesRead;
        if (payloadRemaining == 0) {
            final HostRequest request = receiving;
            receiving = null;
            submit(request);
        }
    }

    private void parseInput() throws IOException {
        in.flip();
        try {
            parse();
        } finally {
            if (phase != PHASE_CLOSED) {
                in.compact();
            }
        }
        updateInterest();
    }

    private void parse() throws IOException {
        while (phase != PHASE_CLOSED && !finishing && !stalled && moveTarget == null) {
            final boolean progressed = switch (phase) {
                case PHASE_CLIENT_FLAGS -> parseClientFlags();
                case PHASE_OPTIONS -> parseOption();
                default -> parseTransmission();
            };
            if (!progressed) {
                return;
            }
        }
        if (finishing) {
            in.position(in.limit()); // a client sends nothing after DISC / ABORT
        }
    }

    private boolean parseClientFlags() throws IOException {
        if (in.remaining() < 4) {
            return false;
        }
        final int clientFlags = in.getInt();
        if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0) {
            counters.increment(NbdCounters.BAD_CLIENT_FLAGS);
            close();
            return false;
        }
        clientNoZeroes = (clientFlags & FLAG_C_NO_ZEROES) != 0;
        phase = PHASE_OPTIONS;
        return true;
    }

    // ------------------------------------------------------------------ option haggling

    private boolean parseOption() throws IOException {
        if (optionDiscardRemaining > 0) {
            final int skip = (int)Math.min(in.remaining(), optionDiscardRemaining);
            in.position(in.position() + skip);
            optionDiscardRemaining -= skip;
            if (optionDiscardRemaining > 0) {
                return false;
            }
            optionReply(optionDiscardCode, REP_ERR_TOO_BIG, ascii("afasim: option data too large"));
            flushOutput();
            return true;
        }
        if (ctl.position() != 0 || in.remaining() < OPTION_HEADER_BYTES) {
            return false; // one option at a time: wait until the previous replies are out
        }
        final int start = in.position();
        final long magic = in.getLong(start);
        final int option = in.getInt(start + 8);
        final long lengthBytes = in.getInt(start + 12) & 0xFFFF_FFFFL;
        if (magic != IHAVEOPT) {
            counters.increment(NbdCounters.BAD_OPTION_MAGIC);
            close();
            return false;
        }
        if (lengthBytes > OPTION_DATA_MAX_BYTES) {
            counters.increment(NbdCounters.OVERSIZE_OPTIONS);
            in.position(start + OPTION_HEADER_BYTES);
            if (option == OPT_EXPORT_NAME) {
                close(); // EXPORT_NAME cannot answer an error
                return false;
            }
            optionDiscardCode = option;
            optionDiscardRemaining = lengthBytes;
            return true;
        }
        if (in.remaining() < OPTION_HEADER_BYTES + lengthBytes) {
            return false;
        }
        final int dataStart = start + OPTION_HEADER_BYTES;
        in.position(dataStart + (int)lengthBytes);
        onOption(option, dataStart, (int)lengthBytes);
        if (phase != PHASE_CLOSED) {
            flushOutput();
        }
        return true;
    }

    private void onOption(final int option, final int dataStart, final int lengthBytes) {
        switch (option) {
            case OPT_EXPORT_NAME -> onOptExportName(dataStart, lengthBytes);
            case OPT_ABORT -> {
                optionReply(option, REP_ACK, null);
                finishing = true;
            }
            case OPT_LIST -> onOptList(lengthBytes);
            case OPT_INFO, OPT_GO -> onOptInfoOrGo(option, dataStart, lengthBytes);
            case OPT_STRUCTURED_REPLY -> {
                if (lengthBytes != 0) {
                    invalidOption(option, "afasim: STRUCTURED_REPLY takes no data");
                } else {
                    structuredReplies = true;
                    optionReply(option, REP_ACK, null);
                }
            }
            case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> onOptMetaContext(option, dataStart, lengthBytes);
            default -> {
                counters.increment(NbdCounters.UNKNOWN_OPTIONS);
                optionReply(option, REP_ERR_UNSUP, ascii("afasim: option " + option + " not supported"));
            }
        }
    }

    private void onOptExportName(final int dataStart, final int lengthBytes) {
        final String name = string(dataStart, lengthBytes);
        final ExportInfo info = server.openExport(name);
        if (info == null) {
            counters.increment(NbdCounters.UNKNOWN_EXPORTS);
            close(); // the protocol has no error reply for EXPORT_NAME
            return;
        }
        ctl.putLong(info.sizeBytes()).putShort((short)transmissionFlags(info));
        if (!clientNoZeroes) {
            ctl.put(ZEROES_124);
        }
        enterTransmission(info, name);
    }

    private void onOptList(final int lengthBytes) {
        if (lengthBytes != 0) {
            invalidOption(OPT_LIST, "afasim: LIST takes no data");
            return;
        }
        final List<ExportInfo> exports = server.listExports();
        for (int i = 0; i < exports.size(); i++) {
            final byte[] name = exports.get(i).name().getBytes(StandardCharsets.UTF_8);
            final byte[] description = exports.get(i).description().getBytes(StandardCharsets.UTF_8);
            final int replyBytes = 4 + name.length + description.length;
            if (ctl.remaining() < 2 * 20 + replyBytes) {
                counters.increment(NbdCounters.LIST_TRUNCATED);
                break;
            }
            optionHeader(OPT_LIST, REP_SERVER, replyBytes);
            ctl.putInt(name.length).put(name).put(description);
        }
        optionReply(OPT_LIST, REP_ACK, null);
    }

    private void onOptInfoOrGo(final int option, final int dataStart, final int lengthBytes) {
        if (lengthBytes < 6) {
            invalidOption(option, "afasim: INFO/GO data too short");
            return;
        }
        final int nameLength = in.getInt(dataStart);
        if (nameLength < 0 || 4L + nameLength + 2 > lengthBytes) {
            invalidOption(option, "afasim: INFO/GO name length out of bounds");
            return;
        }
        final int infoCount = in.getShort(dataStart + 4 + nameLength) & 0xFFFF;
        if (4 + nameLength + 2 + 2 * infoCount != lengthBytes) {
            invalidOption(option, "afasim: INFO/GO length does not match its information requests");
            return;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < infoCount; i++) {
            final int infoType = in.getShort(dataStart + 4 + nameLength + 2 + 2 * i) & 0xFFFF;
            wantName |= infoType == INFO_NAME;
            wantDescription |= infoType == INFO_DESCRIPTION;
        }
        final String name = string(dataStart + 4, nameLength);
        final ExportInfo info = server.openExport(name);
        if (info == null) {
            counters.increment(NbdCounters.UNKNOWN_EXPORTS);
            optionReply(option, REP_ERR_UNKNOWN, utf8Truncated("afasim: unknown export: " + name));
            return;
        }
        optionHeader(option, REP_INFO, 12);
        ctl.putShort((short)INFO_EXPORT).putLong(info.sizeBytes()).putShort((short)transmissionFlags(info));
        if (wantName) {
            final byte[] nameBytes = info.name().getBytes(StandardCharsets.UTF_8);
            optionHeader(option, REP_INFO, 2 + nameBytes.length);
            ctl.putShort((short)INFO_NAME).put(nameBytes);
        }
        if (wantDescription && !info.description().isEmpty()) {
            final byte[] description = info.description().getBytes(StandardCharsets.UTF_8);
            optionHeader(option, REP_INFO, 2 + description.length);
            ctl.putShort((short)INFO_DESCRIPTION).put(description);
        }
        optionHeader(option, REP_INFO, 14);
        ctl.putShort((short)INFO_BLOCK_SIZE).putInt(info.minimumBlockSize()).putInt(info.preferredBlockSize())
            .putInt(advertisedMaximum(info));
        optionReply(option, REP_ACK, null);
        if (option == OPT_GO) {
            enterTransmission(info, name);
        }
    }

    private void onOptMetaContext(final int option, final int dataStart, final int lengthBytes) {
        if (!structuredReplies) {
            invalidOption(option, "afasim: negotiate structured replies first");
            return;
        }
        final int end = dataStart + lengthBytes;
        if (lengthBytes < 8) {
            invalidOption(option, "afasim: meta context data too short");
            return;
        }
        final int nameLength = in.getInt(dataStart);
        if (nameLength < 0 || (long)dataStart + 4 + nameLength + 4 > end) {
            invalidOption(option, "afasim: meta context export name out of bounds");
            return;
        }
        final String name = string(dataStart + 4, nameLength);
        int position = dataStart + 4 + nameLength;
        final int queryCount = in.getInt(position);
        position += 4;
        boolean matched = queryCount == 0 && option == OPT_LIST_META_CONTEXT;
        for (int i = 0; i < queryCount; i++) {
            if (position + 4 > end) {
                invalidOption(option, "afasim: meta context query out of bounds");
                return;
            }
            final int queryLength = in.getInt(position);
            if (queryLength < 0 || (long)position + 4 + queryLength > end) {
                invalidOption(option, "afasim: meta context query out of bounds");
                return;
            }
            final String query = string(position + 4, queryLength);
            matched |= BASE_ALLOCATION.equals(query) || "base:".equals(query);
            position += 4 + queryLength;
        }
        if (position != end || queryCount < 0) {
            invalidOption(option, "afasim: meta context data length mismatch");
            return;
        }
        if (server.openExport(name) == null) {
            counters.increment(NbdCounters.UNKNOWN_EXPORTS);
            optionReply(option, REP_ERR_UNKNOWN, utf8Truncated("afasim: unknown export: " + name));
            return;
        }
        if (option == OPT_SET_META_CONTEXT) {
            baseAllocation = matched;
            metaContextExportName = name;
        }
        if (matched) {
            optionHeader(option, REP_META_CONTEXT, 4 + BASE_ALLOCATION_BYTES.length);
            ctl.putInt(option == OPT_SET_META_CONTEXT ? BASE_ALLOCATION_CONTEXT_ID : 0).put(BASE_ALLOCATION_BYTES);
        }
        optionReply(option, REP_ACK, null);
    }

    private void enterTransmission(final ExportInfo info, final String name) {
        export = info;
        requestDataMaxBytes = advertisedMaximum(info);
        if (metaContextExportName != null && !metaContextExportName.equals(name)) {
            baseAllocation = false; // contexts were negotiated for another export
        }
        phase = PHASE_TRANSMISSION;
        counters.increment(NbdCounters.HANDSHAKES_COMPLETED);
        final NbdLoop home = server.loopFor(info.exportId());
        if (home != null && home != loop) {
            moveTarget = home; // served on its volume's thread from the next request on
            loop.queueMove(this);
        }
    }

    private int advertisedMaximum(final ExportInfo info) {
        final int maximum = Math.min(info.maximumBlockSize(), ctx.requestDataMaxBytes());
        return maximum - maximum % info.minimumBlockSize();
    }

    private static int transmissionFlags(final ExportInfo info) {
        int flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
            | FLAG_SEND_FAST_ZERO;
        if (info.readOnly()) {
            flags |= FLAG_READ_ONLY;
        }
        if (info.multiConn()) {
            flags |= FLAG_CAN_MULTI_CONN;
        }
        return flags;
    }

    private void invalidOption(final int option, final String message) {
        counters.increment(NbdCounters.INVALID_OPTIONS);
        optionReply(option, REP_ERR_INVALID, ascii(message));
    }

    private void optionHeader(final int option, final int replyType, final int lengthBytes) {
        ctl.putLong(OPTION_REPLY_MAGIC).putInt(option).putInt(replyType).putInt(lengthBytes);
    }

    private void optionReply(final int option, final int replyType, final byte[] data) {
        optionHeader(option, replyType, data == null ? 0 : data.length);
        if (data != null) {
            ctl.put(data);
        }
    }

    private String string(final int position, final int lengthBytes) {
        final byte[] bytes = new byte[lengthBytes];
        in.get(position, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static byte[] utf8Truncated(final String text) {
        final byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return bytes.length <= 1024 ? bytes : java.util.Arrays.copyOf(bytes, 1024);
    }

    // ------------------------------------------------------------------ transmission

    private boolean parseTransmission() throws IOException {
        if (receiving != null) {
            return copyPayload();
        }
        if (discardRemaining > 0) {
            final int skip = (int)Math.min(in.remaining(), discardRemaining);
            in.position(in.position() + skip);
            discardRemaining -= skip;
            if (discardRemaining > 0) {
                return false;
            }
            final HostRequest reply = discardReply;
            discardReply = null;
            enqueueReply(reply);
            return true;
        }
        if (in.remaining() < REQUEST_HEADER_BYTES) {
            return false;
        }
        return parseRequestHeader();
    }

    private boolean copyPayload() throws IOException {
        final int copyBytes = (int)Math.min(in.remaining(), payloadRemaining);
        if (copyBytes > 0) {
            final int destination = (int)(receiving.lengthBytes() - payloadRemaining);
            receiving.dataByteBuffer.put(destination, in, in.position(), copyBytes);
            in.position(in.position() + copyBytes);
            payloadRemaining -= copyBytes;
        }
        if (payloadRemaining > 0) {
            return false;
        }
        final HostRequest request = receiving;
        receiving = null;
        submit(request);
        return true;
    }

    private boolean parseRequestHeader() throws IOException {
        final int start = in.position();
        final int magic = in.getInt(start);
        final int flags = in.getShort(start + 4) & 0xFFFF;
        final int command = in.getShort(start + 6) & 0xFFFF;
        final long cookie = in.getLong(start + 8);
        final long offsetBytes = in.getLong(start + 16);
        final long lengthBytes = in.getInt(start + 24) & 0xFFFF_FFFFL;
        if (magic != REQUEST_MAGIC) {
            counters.increment(NbdCounters.BAD_REQUEST_MAGIC);
            close();
            return false;
        }
        if (command == CMD_DISC) {
            in.position(start + REQUEST_HEADER_BYTES);
            counters.increment(NbdCounters.DISCONNECTS);
            beginFinish();
            return false;
        }
        if (command == CMD_WRITE && lengthBytes > requestDataMaxBytes && lengthBytes > ctx.writeDiscardMaxBytes()) {
            counters.increment(NbdCounters.OVERSIZE_WRITES_CLOSED);
            close(); // cannot skip that much payload safely: clean close
            return false;
        }
        if (freeSlotCount == 0) {
            counters.increment(NbdCounters.STALLS_REQUEST_SLOT);
            stalled = true;
            return false;
        }
        final int errno = validate(command, flags, offsetBytes, lengthBytes);
        ByteBuffer dataBuffer = null;
        if (errno == 0 && (command == CMD_READ || command == CMD_WRITE) && lengthBytes > 0) {
            dataBuffer = server.acquireBuffer((int)lengthBytes, loop);
            if (dataBuffer == null) {
                counters.increment(NbdCounters.STALLS_BUFFER);
                stalled = true;
                loop.waitForBuffer(this);
                return false;
            }
        }
        in.position(start + REQUEST_HEADER_BYTES);
        final HostRequest request = requests[freeSlots[--freeSlotCount]];
        request.prepare(export.exportId(), command, flags, offsetBytes, lengthBytes, cookie, dataBuffer);
        if (errno != 0) {
            request.setErrno(errno);
            request.errorMessage = validationMessage;
            if (command == CMD_WRITE && lengthBytes > 0) {
                discardReply = request;
                discardRemaining = lengthBytes;
            } else {
                enqueueReply(request);
            }
        } else if (command == CMD_WRITE && lengthBytes > 0) {
            receiving = request;
            payloadRemaining = lengthBytes;
        } else if (lengthBytes == 0 && command != CMD_FLUSH) {
            enqueueReply(request); // zero-length READ/WRITE/TRIM/WRITE_ZEROES: nothing to do
        } else {
            submit(request);
        }
        return true;
    }

    /** Returns 0 or the errno for a bad request, counting its kind and setting {@link #validationMessage}. */
    private int validate(final int command, final int flags, final long offsetBytes, final long lengthBytes) {
        final int allowedFlags;
        switch (command) {
            case CMD_READ, CMD_WRITE, CMD_FLUSH, CMD_TRIM -> allowedFlags = CMD_FLAG_FUA;
            case CMD_WRITE_ZEROES -> allowedFlags = CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
            case CMD_BLOCK_STATUS -> allowedFlags = CMD_FLAG_FUA | CMD_FLAG_REQ_ONE;
            default -> {
                return reject(NbdCounters.UNKNOWN_COMMANDS, HostRequest.EINVAL, MSG_UNKNOWN_COMMAND);
            }
        }
        if ((flags & ~allowedFlags) != 0) {
            return reject(NbdCounters.BAD_COMMAND_FLAGS, HostRequest.EINVAL, MSG_BAD_FLAGS);
        }
        if (!export.online()) {
            return reject(NbdCounters.OFFLINE_REQUESTS, HostRequest.EIO, MSG_OFFLINE);
        }
        final boolean writes = command == CMD_WRITE || command == CMD_TRIM || command == CMD_WRITE_ZEROES;
        if (writes && export.readOnly()) {
            return reject(NbdCounters.READ_ONLY_VIOLATIONS, HostRequest.EPERM, MSG_READ_ONLY);
        }
        if (command == CMD_BLOCK_STATUS && !baseAllocation) {
            return reject(NbdCounters.BLOCK_STATUS_WITHOUT_CONTEXT, HostRequest.EINVAL, MSG_NO_CONTEXT);
        }
        if ((command == CMD_READ || command == CMD_WRITE) && lengthBytes > requestDataMaxBytes) {
            return reject(NbdCounters.OVERSIZE_REQUESTS, HostRequest.EINVAL, MSG_OVERSIZE);
        }
        if (command == CMD_BLOCK_STATUS && lengthBytes == 0) {
            return reject(NbdCounters.OUT_OF_RANGE, HostRequest.EINVAL, MSG_ZERO_LENGTH);
        }
        if (command != CMD_FLUSH && (offsetBytes < 0 || lengthBytes > export.sizeBytes() - offsetBytes)) {
            return reject(NbdCounters.OUT_OF_RANGE, writes ? HostRequest.ENOSPC : HostRequest.EINVAL, MSG_OUT_OF_RANGE);
        }
        return 0;
    }

    private int reject(final int counterId, final int errno, final byte[] message) {
        counters.increment(counterId);
        validationMessage = message;
        return errno;
    }

    private void submit(final HostRequest request) {
        request.markSubmitted();
        backendInFlight++;
        counters.increment(NbdCounters.REQUESTS_SUBMITTED);
        if (request.command() == CMD_WRITE) {
            counters.add(NbdCounters.BYTES_WRITTEN, request.lengthBytes());
        }
        server.submitToBackend(request);
    }

    // ------------------------------------------------------------------ replies

    /** Queues a reply; the server flushes the connection at the end of its duty cycle ({@link #flush}). */
    private void enqueueReply(final HostRequest request) {
        replyRing[(int)(replyTail++ & replyMask)] = request;
        loop.queueFlush(this);
    }

    /** Writes queued replies (network thread, once per duty cycle in which replies were queued). */
    void flush() throws IOException {
        flushQueued = false;
        flushOutput();
    }

    private HostRequest pollReply() {
        final int index = (int)(replyHead++ & replyMask);
        final HostRequest request = replyRing[index];
        replyRing[index] = null;
        return request;
    }

    /** Writes pending handshake bytes and replies until done or the socket is full. */
    private void flushOutput() throws IOException {
        if (phase == PHASE_CLOSED) {
            return;
        }
        if (ctl.position() > 0) {
            ctl.flip();
            channel.write(ctl);
            ctl.compact();
        }
        if (ctl.position() == 0) {
            for (int budget = replyRing.length; budget > 0; budget--) {
                if (sendCount == 0 && !fillBatch()) {
                    break;
                }
                channel.write(gather, gatherHead, gatherCount - gatherHead);
                releaseSent();
                if (sendCount > 0) {
                    break; // the socket is full: OP_WRITE resumes
                }
            }
        }
        checkFinished();
        updateInterest();
    }

    /** Takes queued replies into a new batch (encoded, buffers in gather order); false when none is queued. */
    private boolean fillBatch() {
        sendHead = 0;
        gatherHead = 0;
        gatherCount = 0;
        boolean blockStatusInBatch = false;
        while (replyHead != replyTail && sendCount < REPLY_BATCH_MAX) {
            final boolean blockStatus = replyRing[(int)(replyHead & replyMask)].command() == CMD_BLOCK_STATUS;
            if (blockStatus && blockStatusInBatch) {
                break; // the shared block status header is taken: next batch
            }
            blockStatusInBatch |= blockStatus;
            final HostRequest request = pollReply();
            encodeReply(request);
            sendBatch[sendCount] = request;
            sendBatchLastBuffer[sendCount] = gatherCount - 1;
            sendCount++;
        }
        return sendCount > 0;
    }

    /** Releases every reply of the batch that is fully written; skips the written buffers. */
    private void releaseSent() {
        while (sendCount > 0 && !gather[sendBatchLastBuffer[sendHead]].hasRemaining()) {
            final HostRequest sent = sendBatch[sendHead];
            sendBatch[sendHead++] = null;
            sendCount--;
            onReplySent(sent);
        }
        while (gatherHead < gatherCount && !gather[gatherHead].hasRemaining()) {
            gather[gatherHead++] = null;
        }
    }

    private void encodeReply(final HostRequest request) {
        final ByteBuffer header =
            (request.command() == CMD_BLOCK_STATUS ? replyHeader : slotReplyHeaders[request.slotIndex]).clear();
        int errno = request.errno();
        if (errno != 0 && !isWireErrno(errno)) {
            counters.increment(NbdCounters.BACKEND_BAD_ERRNO);
            errno = HostRequest.EIO;
        }
        gather[gatherCount++] = header;
        final boolean readData = errno == 0 && request.command() == CMD_READ && request.lengthBytes() > 0;
        if (!structuredReplies) {
            header.putInt(SIMPLE_REPLY_MAGIC).putInt(errno).putLong(request.cookie());
        } else if (errno != 0) {
            final byte[] message = request.errorMessage != null ? request.errorMessage : messageFor(errno);
            structuredHeader(header, REPLY_TYPE_ERROR, request.cookie(), 6 + message.length);
            header.putInt(errno).putShort((short)message.length).put(message);
        } else if (readData) {
            structuredHeader(header, REPLY_TYPE_OFFSET_DATA, request.cookie(), 8 + request.lengthBytes());
            header.putLong(request.offsetBytes());
        } else if (request.command() == CMD_BLOCK_STATUS) {
            encodeBlockStatus(header, request);
        } else {
            structuredHeader(header, REPLY_TYPE_NONE, request.cookie(), 0);
        }
        header.flip();
        if (readData) {
            final ByteBuffer data = request.dataByteBuffer;
            data.limit((int)request.lengthBytes()).position(0);
            gather[gatherCount++] = data;
        }
    }

    private void encodeBlockStatus(final ByteBuffer header, final HostRequest request) {
        final BlockStatusSink sink = request.blockStatus();
        final int count = sink.count();
        structuredHeader(header, REPLY_TYPE_BLOCK_STATUS, request.cookie(), 4 + 8L * Math.max(1, count));
        header.putInt(BASE_ALLOCATION_CONTEXT_ID);
        if (count == 0) {
            counters.increment(NbdCounters.UNEXPECTED_ERRORS); // backend reported nothing: status 0 is always safe
            header.putInt((int)request.lengthBytes()).putInt(0);
            return;
        }
        for (int i = 0; i < count; i++) {
            header.putInt((int)sink.lengthBytes(i)).putInt(sink.flags(i));
        }
    }

    private static void structuredHeader(final ByteBuffer header, final int type, final long cookie, final long lengthBytes) {
        header.putInt(STRUCTURED_REPLY_MAGIC).putShort((short)REPLY_FLAG_DONE).putShort((short)type).putLong(cookie)
            .putInt((int)lengthBytes);
    }

    private static byte[] messageFor(final int errno) {
        return switch (errno) {
            case HostRequest.EPERM -> MSG_EPERM;
            case HostRequest.ENOMEM -> MSG_ENOMEM;
            case HostRequest.EINVAL -> MSG_EINVAL;
            case HostRequest.ENOSPC -> MSG_ENOSPC;
            case HostRequest.EOVERFLOW -> MSG_EOVERFLOW;
            case HostRequest.ENOTSUP -> MSG_ENOTSUP;
            case HostRequest.ESHUTDOWN -> MSG_ESHUTDOWN;
            default -> MSG_EIO;
        };
    }

    private void onReplySent(final HostRequest request) {
        counters.increment(NbdCounters.REQUESTS_COMPLETED);
        if (request.command() == CMD_READ && request.errno() == 0) {
            counters.add(NbdCounters.BYTES_READ, request.lengthBytes());
        }
        releaseRequest(request);
    }

    private void releaseRequest(final HostRequest request) {
        if (request.dataByteBuffer != null) {
            server.releaseBuffer(request.dataByteBuffer);
            request.dataByteBuffer = null;
        }
        freeSlots[freeSlotCount++] = request.slotIndex;
        if (stalled && phase != PHASE_CLOSED) {
            loop.queueResume(this);
        }
    }

    private void checkFinished() {
        if (finishing && phase != PHASE_CLOSED && freeSlotCount == requests.length && ctl.position() == 0
            && sendCount == 0) {
            close();
        }
    }

    private void updateInterest() {
        if (phase == PHASE_CLOSED || key == null || !key.isValid()) {
            return; // no key: between two loops
        }
        int ops = 0;
        if (!finishing && !stalled && moveTarget == null && in.hasRemaining()) {
            ops |= SelectionKey.OP_READ;
        }
        if (ctl.position() > 0 || sendCount > 0 || replyHead != replyTail) {
            ops |= SelectionKey.OP_WRITE;
        }
        if (key.interestOps() != ops) {
            key.interestOps(ops);
        }
    }
}
