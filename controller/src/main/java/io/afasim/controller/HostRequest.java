package io.afasim.controller;

import org.agrona.concurrent.UnsafeBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * One host I/O request, pooled and reused (no allocation per I/O). The NBD server fills the fields, the backend
 * reads them, does the work and calls {@link #complete(int)} exactly once from any thread; the request then goes
 * back to its connection, which sends the reply and reuses the object.
 * <p>
 * {@link #data()} is an {@link UnsafeBuffer} over a pooled direct buffer: for WRITE it holds the payload
 * ({@code lengthBytes} bytes), for READ the backend fills {@code lengthBytes} bytes. For other commands it has
 * capacity 0. For BLOCK_STATUS the backend fills {@link #blockStatus()}. The backend must not touch the request
 * after {@code complete}.
 */
public final class HostRequest {
    // commands (NBD command numbers)
    public static final int READ = NbdProtocol.CMD_READ;
    public static final int WRITE = NbdProtocol.CMD_WRITE;
    public static final int FLUSH = NbdProtocol.CMD_FLUSH;
    public static final int TRIM = NbdProtocol.CMD_TRIM;
    public static final int WRITE_ZEROES = NbdProtocol.CMD_WRITE_ZEROES;
    public static final int BLOCK_STATUS = NbdProtocol.CMD_BLOCK_STATUS;

    // flags (NBD command flags)
    /** Force unit access: the write meets its durability rule before completion. */
    public static final int FUA = NbdProtocol.CMD_FLAG_FUA;
    /** WRITE_ZEROES: keep the range allocated (do not punch a hole). */
    public static final int NO_HOLE = NbdProtocol.CMD_FLAG_NO_HOLE;
    /** BLOCK_STATUS: the client wants one extent only (the sink already limits itself to one). */
    public static final int REQ_ONE = NbdProtocol.CMD_FLAG_REQ_ONE;
    /** WRITE_ZEROES: fail fast with ENOTSUP unless zeroing is quicker than writing zeroes. */
    public static final int FAST_ZERO = NbdProtocol.CMD_FLAG_FAST_ZERO;

    // errno values allowed by NBD
    public static final int OK = 0;
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    /** Whoever gets the request back after {@link #complete(int)} (the NBD server, or a test). */
    @FunctionalInterface
    public interface CompletionHandler {
        /** Called on the completing thread, exactly once per submission. */
        void onComplete(HostRequest request);
    }

    static final int STATE_IDLE = 0;
    static final int STATE_SUBMITTED = 1;
    static final int STATE_COMPLETED = 2;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(HostRequest.class, "state", int.class);
        } catch (final ReflectiveOperationException ex) {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private final CompletionHandler completionHandler;
    private final UnsafeBuffer data = new UnsafeBuffer(EMPTY);
    private final BlockStatusSink blockStatus;
    private int exportId;
    private int command;
    private int flags;
    private long offsetBytes;
    private long lengthBytes;
    private long cookie;
    /** WB: the link ticket this write waits for (set and read by the volume agent only). */
    private long mirrorTicket;
    private volatile int state;
    private int errno;

    // owned by the NBD server (network thread)
    NbdConnection connection;
    int slotIndex;
    ByteBuffer dataByteBuffer;
    byte[] errorMessage;

    public HostRequest(final CompletionHandler completionHandler, final int blockStatusExtentsMax) {
        if (completionHandler == null) {
            throw new IllegalArgumentException("completionHandler is null");
        }
        this.completionHandler = completionHandler;
        this.blockStatus = new BlockStatusSink(blockStatusExtentsMax);
    }

    /**
     * Prepares the request for a submission (server or test side). {@code dataBuffer} (direct, may be null for
     * commands without data) is wrapped from 0 to {@code lengthBytes} for READ and WRITE.
     */
    public void prepare(final int exportId, final int command, final int flags, final long offsetBytes,
                        final long lengthBytes, final long cookie, final ByteBuffer dataBuffer) {
        if (state == STATE_SUBMITTED) {
            throw new IllegalStateException("request still submitted: cookie=" + this.cookie);
        }
        this.exportId = exportId;
        this.command = command;
        this.flags = flags;
        this.offsetBytes = offsetBytes;
        this.lengthBytes = lengthBytes;
        this.cookie = cookie;
        this.errno = OK;
        this.dataByteBuffer = dataBuffer;
        if (dataBuffer != null && (command == READ || command == WRITE)) {
            if (lengthBytes > dataBuffer.capacity()) {
                throw new IllegalArgumentException("data buffer too small: " + dataBuffer.capacity() + " < " + lengthBytes);
            }
            data.wrap(dataBuffer, 0, (int)lengthBytes);
        } else {
            data.wrap(EMPTY);
        }
        if (command == BLOCK_STATUS) {
            blockStatus.reset(lengthBytes, (flags & REQ_ONE) != 0 ? 1 : blockStatus.capacity());
        }
        this.errorMessage = null;
        STATE.setRelease(this, STATE_IDLE);
    }

    /** Marks the request handed to a backend; {@link #complete(int)} is legal from now on, once. */
    public void markSubmitted() {
        if (!STATE.compareAndSet(this, STATE_IDLE, STATE_SUBMITTED)) {
            throw new IllegalStateException("request submitted twice: cookie=" + cookie);
        }
    }

    /**
     * Completes the request: 0 = ok, else an NBD errno ({@link #EIO}, {@link #EINVAL}, {@link #ENOSPC},
     * {@link #ENOTSUP}, {@link #ESHUTDOWN}, ...). Exactly once per submission, from any thread.
     */
    public void complete(final int errno) {
        if (errno < 0) {
            throw new IllegalArgumentException("errno must be >= 0: " + errno);
        }
        this.errno = errno;
        if (!STATE.compareAndSet(this, STATE_SUBMITTED, STATE_COMPLETED)) {
            throw new IllegalStateException("request completed twice or never submitted: cookie=" + cookie);
        }
        completionHandler.onComplete(this);
    }

    /** Forwarding (non-owner): chunks still in flight and the first error of any chunk. */
    private int forwardChunksLeft;
    private int forwardErrno;

    synchronized void forwardBegin(final int chunks) {
        this.forwardChunksLeft = chunks;
        this.forwardErrno = OK;
    }

    /** One chunk answered (any thread); true for the last one, whose caller completes the request. */
    synchronized boolean forwardChunkDone(final int errno) {
        if (errno != OK && forwardErrno == OK) {
            forwardErrno = errno;
        }
        return --forwardChunksLeft == 0;
    }

    synchronized int forwardErrno() {
        return forwardErrno;
    }

    long mirrorTicket() {
        return mirrorTicket;
    }

    void mirrorTicket(final long ticket) {
        this.mirrorTicket = ticket;
    }

    public int exportId() {
        return exportId;
    }

    public int command() {
        return command;
    }

    public int flags() {
        return flags;
    }

    public boolean hasFlag(final int flag) {
        return (flags & flag) != 0;
    }

    public long offsetBytes() {
        return offsetBytes;
    }

    public long lengthBytes() {
        return lengthBytes;
    }

    public long cookie() {
        return cookie;
    }

    /** READ: fill it; WRITE: the payload. Capacity == lengthBytes for READ/WRITE, 0 otherwise. */
    public UnsafeBuffer data() {
        return data;
    }

    public BlockStatusSink blockStatus() {
        return blockStatus;
    }

    /** The errno given to {@link #complete(int)} (valid once completed). */
    public int errno() {
        return errno;
    }

    int state() {
        return state;
    }

    void setErrno(final int errno) {
        this.errno = errno;
    }

    public static String commandName(final int command) {
        return switch (command) {
            case READ -> "READ";
            case WRITE -> "WRITE";
            case FLUSH -> "FLUSH";
            case TRIM -> "TRIM";
            case WRITE_ZEROES -> "WRITE_ZEROES";
            case BLOCK_STATUS -> "BLOCK_STATUS";
            default -> "UNKNOWN(" + command + ")";
        };
    }

    @Override
    public String toString() {
        return "HostRequest{" + commandName(command) + " export=" + exportId + " offset=" + offsetBytes
            + " length=" + lengthBytes + " flags=" + flags + " cookie=" + cookie + " state=" + state + '}';
    }
}
