package io.afasim.controller;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.afasim.controller.NbdProtocol.*;

/**
 * A simple blocking NBD client (for {@code afasim demo}, the HA harness's acknowledged-write ledger and tests).
 * Fixed newstyle + NO_ZEROES, optional structured replies and {@code base:allocation}, NBD_OPT_GO by name.
 * <p>
 * Pipelining: {@code submit*} sends a request and returns its cookie without waiting; up to
 * {@link Options#inFlightMax} requests are outstanding (a submit beyond that first reads replies). Replies are read
 * on the caller's thread by {@link #awaitAll()}, {@link #await(long)} or a later submit, and reported to the
 * {@link Listener} as they arrive (in the server's order). A WRITE's source array may be reused as soon as its
 * submit returns; a READ's destination is filled when its reply arrives. The blocking methods ({@link #read},
 * {@link #write}, ...) submit and await, throwing {@link NbdException} on an error reply. Not thread-safe.
 */
public final class NbdClient implements AutoCloseable {
    public static final int IN_FLIGHT_MAX_DEFAULT = 16;
    /** Cookies carry the slot index in their low 16 bits. */
    public static final int IN_FLIGHT_MAX_LIMIT = 0xFFFF;
    public static final int SO_TIMEOUT_MS_DEFAULT = 30_000;
    public static final int CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
    private static final int OPTION_REPLY_BYTES_MAX = 64 * 1024;
    private static final int STREAM_BUFFER_BYTES = 256 * 1024;

    /** Connection options. */
    public static final class Options {
        private boolean structuredReplies = true;
        private boolean baseAllocation = true;
        private int inFlightMax = IN_FLIGHT_MAX_DEFAULT;
        private int soTimeoutMs = SO_TIMEOUT_MS_DEFAULT;
        private int connectTimeoutMs = CONNECT_TIMEOUT_MS_DEFAULT;

        public Options structuredReplies(final boolean value) {
            structuredReplies = value;
            return this;
        }

        public Options baseAllocation(final boolean value) {
            baseAllocation = value;
            return this;
        }

        /** Keep at most the server's per-connection request limit (128 for afasim). */
        public Options inFlightMax(final int value) {
            if (value < 1 || value > IN_FLIGHT_MAX_LIMIT) {
                throw new IllegalArgumentException("inFlightMax out of [1, 65535]: " + value);
            }
            inFlightMax = value;
            return this;
        }

        public Options soTimeoutMs(final int value) {
            soTimeoutMs = value;
            return this;
        }

        public Options connectTimeoutMs(final int value) {
            connectTimeoutMs = value;
            return this;
        }
    }

    /** One block status extent (base:allocation flags: 1 = hole, 2 = zero). */
    public record Extent(long lengthBytes, int flags) {
    }

    /** Told of every reply, on the thread that reads it. */
    @FunctionalInterface
    public interface Listener {
        void onReply(long cookie, int command, long offsetBytes, long lengthBytes, int errno);
    }

    private static final class Slot {
        boolean busy;
        boolean done;
        boolean autoRelease;
        long cookie;
        int command;
        long offsetBytes;
        long lengthBytes;
        byte[] destination;
        int destinationOffset;
        int errno;
        String errorMessage;
        final List<Extent> extents = new ArrayList<>();
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final Slot[] slots;
    private int inFlight;
    private int nextSlot;
    private long sequence;
    private Listener listener;
    private boolean closed;

    private long sizeBytes;
    private int transmissionFlags;
    private boolean structuredReplies;
    private int baseAllocationContextId = -1;
    private int minimumBlockSize = 1;
    private int preferredBlockSize = 4096;
    private int maximumBlockSize = 32 * 1024 * 1024;

    private NbdClient(final Socket socket, final int inFlightMax) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), STREAM_BUFFER_BYTES));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), STREAM_BUFFER_BYTES));
        this.slots = new Slot[inFlightMax];
        for (int i = 0; i < inFlightMax; i++) {
            slots[i] = new Slot();
        }
    }

    public static NbdClient connect(final String host, final int port, final String exportName) throws IOException {
        return connect(host, port, exportName, new Options());
    }

    /** Connects, negotiates and enters transmission on {@code exportName} (NBD_OPT_GO). */
    public static NbdClient connect(final String host, final int port, final String exportName, final Options options)
        throws IOException {
        final Socket socket = openSocket(host, port, options);
        final NbdClient client;
        try {
            client = new NbdClient(socket, options.inFlightMax);
            client.handshake(exportName, options);
        } catch (final IOException | RuntimeException ex) {
            socket.close();
            throw ex;
        }
        return client;
    }

    /** Export names from NBD_OPT_LIST (then NBD_OPT_ABORT). */
    public static List<String> listExports(final String host, final int port) throws IOException {
        final Options options = new Options();
        try (Socket socket = openSocket(host, port, options)) {
            final NbdClient client = new NbdClient(socket, 1);
            client.greet();
            client.sendOption(OPT_LIST, new byte[0]);
            final List<String> names = new ArrayList<>();
            while (true) {
                final OptionReply reply = client.readOptionReply(OPT_LIST);
                if (reply.type == REP_SERVER) {
                    final int nameLength = readInt(reply.data, 0);
                    names.add(new String(reply.data, 4, nameLength, StandardCharsets.UTF_8));
                } else if (reply.type == REP_ACK) {
                    break;
                } else {
                    throw optionError("LIST", reply);
                }
            }
            client.sendOption(OPT_ABORT, new byte[0]);
            return names;
        }
    }

    private static Socket openSocket(final String host, final int port, final Options options) throws IOException {
        final Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(host, port), options.connectTimeoutMs);
            socket.setSoTimeout(options.soTimeoutMs);
            socket.setTcpNoDelay(true);
        } catch (final IOException ex) {
            socket.close();
            throw ex;
        }
        return socket;
    }

    // ------------------------------------------------------------------ handshake

    private void greet() throws IOException {
        final long magic = in.readLong();
        final long optionMagic = in.readLong();
        final int handshakeFlags = in.readUnsignedShort();
        if (magic != NBDMAGIC || optionMagic != IHAVEOPT) {
            throw new IOException("not an NBD newstyle server: magic=" + Long.toHexString(magic));
        }
        if ((handshakeFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("server does not speak fixed newstyle");
        }
        out.writeInt(FLAG_C_FIXED_NEWSTYLE | (handshakeFlags & FLAG_NO_ZEROES) * (FLAG_C_NO_ZEROES / FLAG_NO_ZEROES));
        out.flush();
    }

    private void handshake(final String exportName, final Options options) throws IOException {
        greet();
        final byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        if (options.structuredReplies) {
            sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            final OptionReply reply = readOptionReply(OPT_STRUCTURED_REPLY);
            structuredReplies = reply.type == REP_ACK;
        }
        if (structuredReplies && options.baseAllocation) {
            final byte[] query = BASE_ALLOCATION_BYTES;
            final byte[] data = new byte[4 + name.length + 4 + 4 + query.length];
            putInt(data, 0, name.length);
            System.arraycopy(name, 0, data, 4, name.length);
            putInt(data, 4 + name.length, 1);
            putInt(data, 8 + name.length, query.length);
            System.arraycopy(query, 0, data, 12 + name.length, query.length);
            sendOption(OPT_SET_META_CONTEXT, data);
            while (true) {
                final OptionReply reply = readOptionReply(OPT_SET_META_CONTEXT);
                if (reply.type == REP_META_CONTEXT) {
                    baseAllocationContextId = readInt(reply.data, 0);
                } else if (reply.type == REP_ACK) {
                    break;
                } else {
                    throw optionError("SET_META_CONTEXT", reply);
                }
            }
        }
        final byte[] go = new byte[4 + name.length + 2 + 2];
        putInt(go, 0, name.length);
        System.arraycopy(name, 0, go, 4, name.length);
        go[4 + name.length] = 0;
        go[5 + name.length] = 1;
        go[7 + name.length] = (byte)INFO_BLOCK_SIZE;
        sendOption(OPT_GO, go);
        boolean haveExport = false;
        while (true) {
            final OptionReply reply = readOptionReply(OPT_GO);
            if (reply.type == REP_INFO) {
                final int infoType = ((reply.data[0] & 0xFF) << 8) | (reply.data[1] & 0xFF);
                if (infoType == INFO_EXPORT) {
                    sizeBytes = readLong(reply.data, 2);
                    transmissionFlags = ((reply.data[10] & 0xFF) << 8) | (reply.data[11] & 0xFF);
                    haveExport = true;
                } else if (infoType == INFO_BLOCK_SIZE) {
                    minimumBlockSize = readInt(reply.data, 2);
                    preferredBlockSize = readInt(reply.data, 6);
                    maximumBlockSize = readInt(reply.data, 10);
                }
            } else if (reply.type == REP_ACK) {
                break;
            } else {
                throw optionError("GO", reply);
            }
        }
        if (!haveExport) {
            throw new IOException("server sent no NBD_INFO_EXPORT");
        }
    }

    private record OptionReply(int type, byte[] data) {
    }

    private void sendOption(final int option, final byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    private OptionReply readOptionReply(final int option) throws IOException {
        final long magic = in.readLong();
        final int replyOption = in.readInt();
        final int type = in.readInt();
        final int length = in.readInt();
        if (magic != OPTION_REPLY_MAGIC || replyOption != option) {
            throw new IOException("bad option reply: magic=" + Long.toHexString(magic) + " option=" + replyOption);
        }
        if (length < 0 || length > OPTION_REPLY_BYTES_MAX) {
            throw new IOException("option reply too long: " + length);
        }
        final byte[] data = new byte[length];
        in.readFully(data);
        return new OptionReply(type, data);
    }

    private static NbdException optionError(final String option, final OptionReply reply) {
        return new NbdException(0, "NBD_OPT_" + option + " refused: reply type 0x" + Integer.toHexString(reply.type)
            + (reply.data.length > 0 ? ": " + new String(reply.data, StandardCharsets.UTF_8) : ""));
    }

    // ------------------------------------------------------------------ export facts

    public long sizeBytes() {
        return sizeBytes;
    }

    public int transmissionFlags() {
        return transmissionFlags;
    }

    public boolean isReadOnly() {
        return (transmissionFlags & FLAG_READ_ONLY) != 0;
    }

    public boolean canMultiConn() {
        return (transmissionFlags & FLAG_CAN_MULTI_CONN) != 0;
    }

    public boolean structuredReplies() {
        return structuredReplies;
    }

    public boolean hasBaseAllocation() {
        return baseAllocationContextId >= 0;
    }

    public int minimumBlockSize() {
        return minimumBlockSize;
    }

    public int preferredBlockSize() {
        return preferredBlockSize;
    }

    public int maximumBlockSize() {
        return maximumBlockSize;
    }

    public int inFlight() {
        return inFlight;
    }

    public void listener(final Listener listener) {
        this.listener = listener;
    }

    // ------------------------------------------------------------------ pipelined requests

    public long submitRead(final long offsetBytes, final byte[] destination, final int destinationOffset,
                           final int lengthBytes, final int flags) throws IOException {
        checkRange(destination, destinationOffset, lengthBytes);
        return send(CMD_READ, flags, offsetBytes, lengthBytes, null, 0, destination, destinationOffset, true);
    }

    public long submitWrite(final long offsetBytes, final byte[] source, final int sourceOffset, final int lengthBytes,
                            final int flags) throws IOException {
        checkRange(source, sourceOffset, lengthBytes);
        return send(CMD_WRITE, flags, offsetBytes, lengthBytes, source, sourceOffset, null, 0, true);
    }

    public long submitFlush() throws IOException {
        return send(CMD_FLUSH, 0, 0, 0, null, 0, null, 0, true);
    }

    public long submitTrim(final long offsetBytes, final long lengthBytes, final int flags) throws IOException {
        return send(CMD_TRIM, flags, offsetBytes, lengthBytes, null, 0, null, 0, true);
    }

    public long submitWriteZeroes(final long offsetBytes, final long lengthBytes, final int flags) throws IOException {
        return send(CMD_WRITE_ZEROES, flags, offsetBytes, lengthBytes, null, 0, null, 0, true);
    }

    /** Sends a raw request (tests of the server's validation): any command, flags, offset and length. */
    public long submitRaw(final int command, final int flags, final long offsetBytes, final long lengthBytes)
        throws IOException {
        return send(command, flags, offsetBytes, lengthBytes, null, 0, null, 0, true);
    }

    /** Reads replies until nothing is in flight. */
    public void awaitAll() throws IOException {
        while (inFlight > 0) {
            receiveReply();
        }
    }

    // ------------------------------------------------------------------ blocking requests

    public void read(final long offsetBytes, final byte[] destination, final int destinationOffset,
                     final int lengthBytes) throws IOException {
        checkRange(destination, destinationOffset, lengthBytes);
        awaitOk(send(CMD_READ, 0, offsetBytes, lengthBytes, null, 0, destination, destinationOffset, false));
    }

    public void write(final long offsetBytes, final byte[] source, final int sourceOffset, final int lengthBytes,
                      final int flags) throws IOException {
        checkRange(source, sourceOffset, lengthBytes);
        awaitOk(send(CMD_WRITE, flags, offsetBytes, lengthBytes, source, sourceOffset, null, 0, false));
    }

    public void flush() throws IOException {
        awaitOk(send(CMD_FLUSH, 0, 0, 0, null, 0, null, 0, false));
    }

    public void trim(final long offsetBytes, final long lengthBytes) throws IOException {
        awaitOk(send(CMD_TRIM, 0, offsetBytes, lengthBytes, null, 0, null, 0, false));
    }

    public void writeZeroes(final long offsetBytes, final long lengthBytes, final int flags) throws IOException {
        awaitOk(send(CMD_WRITE_ZEROES, flags, offsetBytes, lengthBytes, null, 0, null, 0, false));
    }

    /** base:allocation extents from offset (needs structured replies + base:allocation). */
    public List<Extent> blockStatus(final long offsetBytes, final long lengthBytes, final int flags)
        throws IOException {
        final long cookie = send(CMD_BLOCK_STATUS, flags, offsetBytes, lengthBytes, null, 0, null, 0, false);
        final Slot slot = awaitSlot(cookie);
        final List<Extent> extents = new ArrayList<>(slot.extents);
        final int errno = slot.errno;
        final String message = slot.errorMessage;
        slot.busy = false;
        if (errno != 0) {
            throw new NbdException(errno, "BLOCK_STATUS failed: errno=" + errno + (message == null ? "" : " " + message));
        }
        return extents;
    }

    /**
     * Waits for the reply to a {@code submit*} request and returns its errno (0 = ok). Valid until the slot is
     * reused by a later submit; the {@link Listener} sees every reply regardless.
     */
    public int await(final long cookie) throws IOException {
        final Slot slot = awaitSlot(cookie);
        final int errno = slot.errno;
        if (!slot.autoRelease) {
            slot.busy = false;
        }
        return errno;
    }

    private void awaitOk(final long cookie) throws IOException {
        final Slot slot = awaitSlot(cookie);
        final int errno = slot.errno;
        final String message = slot.errorMessage;
        final int command = slot.command;
        slot.busy = false;
        if (errno != 0) {
            throw new NbdException(errno, HostRequest.commandName(command) + " failed: errno=" + errno
                + (message == null ? "" : " " + message));
        }
    }

    private Slot awaitSlot(final long cookie) throws IOException {
        final int index = (int)(cookie & 0xFFFF);
        if (index >= slots.length || slots[index].cookie != cookie || (!slots[index].busy && !slots[index].done)) {
            throw new IllegalArgumentException("cookie not outstanding (or its slot was reused): " + cookie);
        }
        final Slot slot = slots[index];
        while (!slot.done) {
            receiveReply();
        }
        return slot;
    }

    // ------------------------------------------------------------------ wire

    private long send(final int command, final int flags, final long offsetBytes, final long lengthBytes,
                      final byte[] source, final int sourceOffset, final byte[] destination,
                      final int destinationOffset, final boolean autoRelease) throws IOException {
        if (closed) {
            throw new IOException("client closed");
        }
        while (inFlight >= slots.length) {
            receiveReply();
        }
        Slot slot = null;
        int index = nextSlot;
        for (int i = 0; i < slots.length; i++) {
            index = (nextSlot + i) % slots.length;
            if (!slots[index].busy) {
                slot = slots[index];
                break;
            }
        }
        if (slot == null) {
            throw new IllegalStateException("every slot held by un-awaited requests");
        }
        nextSlot = (index + 1) % slots.length;
        final long cookie = (++sequence << 16) | index;
        slot.busy = true;
        slot.done = false;
        slot.autoRelease = autoRelease;
        slot.cookie = cookie;
        slot.command = command;
        slot.offsetBytes = offsetBytes;
        slot.lengthBytes = lengthBytes;
        slot.destination = destination;
        slot.destinationOffset = destinationOffset;
        slot.errno = 0;
        slot.errorMessage = null;
        slot.extents.clear();
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(command);
        out.writeLong(cookie);
        out.writeLong(offsetBytes);
        out.writeInt((int)lengthBytes);
        if (command == CMD_WRITE) {
            out.write(source, sourceOffset, (int)lengthBytes);
        }
        out.flush();
        inFlight++;
        return cookie;
    }

    private void receiveReply() throws IOException {
        final int magic = in.readInt();
        if (magic == SIMPLE_REPLY_MAGIC) {
            final int errno = in.readInt();
            final Slot slot = lookup(in.readLong());
            if (errno == 0 && slot.command == CMD_READ && slot.lengthBytes > 0) {
                in.readFully(slot.destination, slot.destinationOffset, (int)slot.lengthBytes);
            }
            slot.errno = errno;
            finish(slot);
        } else if (magic == STRUCTURED_REPLY_MAGIC) {
            receiveChunk();
        } else {
            throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
        }
    }

    private void receiveChunk() throws IOException {
        final int flags = in.readUnsignedShort();
        final int type = in.readUnsignedShort();
        final Slot slot = lookup(in.readLong());
        final long length = in.readInt() & 0xFFFF_FFFFL;
        switch (type) {
            case REPLY_TYPE_NONE -> {
                if (length != 0) {
                    throw new IOException("NONE chunk with payload");
                }
            }
            case REPLY_TYPE_OFFSET_DATA -> {
                final long offset = in.readLong();
                final long dataBytes = length - 8;
                final long relative = offset - slot.offsetBytes;
                if (slot.command != CMD_READ || relative < 0 || dataBytes <= 0 || relative + dataBytes > slot.lengthBytes) {
                    throw new IOException("OFFSET_DATA chunk outside its request");
                }
                in.readFully(slot.destination, slot.destinationOffset + (int)relative, (int)dataBytes);
            }
            case REPLY_TYPE_OFFSET_HOLE -> {
                final long offset = in.readLong();
                final long holeBytes = in.readInt() & 0xFFFF_FFFFL;
                final long relative = offset - slot.offsetBytes;
                if (slot.command != CMD_READ || relative < 0 || relative + holeBytes > slot.lengthBytes) {
                    throw new IOException("OFFSET_HOLE chunk outside its request");
                }
                final int from = slot.destinationOffset + (int)relative;
                Arrays.fill(slot.destination, from, from + (int)holeBytes, (byte)0);
            }
            case REPLY_TYPE_BLOCK_STATUS -> {
                in.readInt(); // context id
                final long count = (length - 4) / 8;
                for (long i = 0; i < count; i++) {
                    final long extentBytes = in.readInt() & 0xFFFF_FFFFL;
                    slot.extents.add(new Extent(extentBytes, in.readInt()));
                }
            }
            default -> {
                if ((type & 0x8000) == 0) {
                    throw new IOException("unknown structured reply type " + type);
                }
                final int errno = in.readInt();
                final int messageLength = in.readUnsignedShort();
                final byte[] message = new byte[messageLength];
                in.readFully(message);
                skip(length - 6 - messageLength);
                if (slot.errno == 0) {
                    slot.errno = errno == 0 ? HostRequest.EIO : errno;
                    slot.errorMessage = new String(message, StandardCharsets.UTF_8);
                }
            }
        }
        if ((flags & REPLY_FLAG_DONE) != 0) {
            finish(slot);
        }
    }

    private void skip(final long bytes) throws IOException {
        long remaining = bytes;
        while (remaining > 0) {
            final long skipped = in.skip(remaining);
            if (skipped <= 0) {
                throw new EOFException();
            }
            remaining -= skipped;
        }
    }

    private Slot lookup(final long cookie) throws IOException {
        final Slot slot = slots[(int)(cookie & 0xFFFF) % slots.length];
        if (!slot.busy || slot.done || slot.cookie != cookie) {
            throw new IOException("reply for unknown cookie " + cookie);
        }
        return slot;
    }

    private void finish(final Slot slot) {
        slot.done = true;
        inFlight--;
        if (listener != null) {
            listener.onReply(slot.cookie, slot.command, slot.offsetBytes, slot.lengthBytes, slot.errno);
        }
        if (slot.autoRelease) {
            slot.busy = false;
        }
    }

    /** Waits for outstanding replies, sends NBD_CMD_DISC and closes. */
    public void disconnect() throws IOException {
        if (closed) {
            return;
        }
        try {
            awaitAll();
            out.writeInt(REQUEST_MAGIC);
            out.writeShort(0);
            out.writeShort(CMD_DISC);
            out.writeLong(0);
            out.writeLong(0);
            out.writeInt(0);
            out.flush();
        } finally {
            closed = true;
            socket.close();
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            disconnect();
        } catch (final IOException ex) {
            socket.close();
        }
    }

    private static void checkRange(final byte[] array, final int offset, final int lengthBytes) {
        if (array == null || offset < 0 || lengthBytes < 0 || offset + lengthBytes > array.length) {
            throw new IllegalArgumentException("array range out of bounds: offset=" + offset + " length=" + lengthBytes);
        }
    }

    private static void putInt(final byte[] array, final int index, final int value) {
        array[index] = (byte)(value >>> 24);
        array[index + 1] = (byte)(value >>> 16);
        array[index + 2] = (byte)(value >>> 8);
        array[index + 3] = (byte)value;
    }

    private static int readInt(final byte[] array, final int index) {
        return ((array[index] & 0xFF) << 24) | ((array[index + 1] & 0xFF) << 16) | ((array[index + 2] & 0xFF) << 8)
            | (array[index + 3] & 0xFF);
    }

    private static long readLong(final byte[] array, final int index) {
        return ((long)readInt(array, index) << 32) | (readInt(array, index + 4) & 0xFFFF_FFFFL);
    }
}
