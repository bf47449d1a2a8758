package io.afasim.controller;

/**
 * Extents the backend reports for an NBD_CMD_BLOCK_STATUS request ({@code base:allocation}): consecutive
 * (lengthBytes, flags) pairs starting at the request offset. Preallocated per {@link HostRequest}; adjacent extents
 * with equal flags are merged; the total is clamped to the request length; at most {@link #extentsLimit()}
 * extents are kept (1 when the client set REQ_ONE). The server sends what was added: fewer bytes than asked is
 * legal NBD, zero extents is answered as one extent of flags 0 (always safe per spec).
 */
public final class BlockStatusSink {
    /** base:allocation flag: not allocated. */
    public static final int STATE_HOLE = 1;
    /** base:allocation flag: reads as zeroes. */
    public static final int STATE_ZERO = 2;

    private final long[] lengthsBytes;
    private final int[] flags;
    private int count;
    private int extentsLimit;
    private long limitBytes;
    private long totalBytes;

    public BlockStatusSink(final int extentsMax) {
        if (extentsMax < 1) {
            throw new IllegalArgumentException("extentsMax must be >= 1: " + extentsMax);
        }
        lengthsBytes = new long[extentsMax];
        flags = new int[extentsMax];
    }

    /** Server side: prepares the sink for a request of {@code limitBytes} bytes. */
    public void reset(final long limitBytes, final int extentsLimit) {
        if (limitBytes < 0 || extentsLimit < 1 || extentsLimit > lengthsBytes.length) {
            throw new IllegalArgumentException("bad sink reset: limitBytes=" + limitBytes + " extentsLimit=" + extentsLimit);
        }
        this.limitBytes = limitBytes;
        this.extentsLimit = extentsLimit;
        count = 0;
        totalBytes = 0;
    }

    /**
     * Appends an extent (clamped to what the request still covers). An extent with the flags of the previous one
     * is merged into it; a new extent beyond the extent limit is refused.
     *
     * @return true while the sink accepts more (bytes remain and another extent fits).
     */
    public boolean add(final long extentLengthBytes, final int extentFlags) {
        if (extentLengthBytes <= 0) {
            throw new IllegalArgumentException("extent length must be > 0: " + extentLengthBytes);
        }
        if (totalBytes >= limitBytes) {
            return false;
        }
        final long lengthBytes = Math.min(extentLengthBytes, limitBytes - totalBytes);
        if (count > 0 && flags[count - 1] == extentFlags) {
            lengthsBytes[count - 1] += lengthBytes;
        } else if (count < extentsLimit) {
            lengthsBytes[count] = lengthBytes;
            flags[count] = extentFlags;
            count++;
        } else {
            return false;
        }
        totalBytes += lengthBytes;
        return !isFull();
    }

    /** True when the request range is covered or no further extent fits. */
    public boolean isFull() {
        return totalBytes >= limitBytes || count >= extentsLimit;
    }

    public long remainingBytes() {
        return limitBytes - totalBytes;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return flags.length;
    }

    public int extentsLimit() {
        return extentsLimit;
    }

    public long lengthBytes(final int index) {
        return lengthsBytes[index];
    }

    public int flags(final int index) {
        return flags[index];
    }

    public long totalLengthBytes() {
        return totalBytes;
    }
}
