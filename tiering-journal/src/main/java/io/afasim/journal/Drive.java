package io.afasim.journal;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.agrona.BufferUtil;

/**
 * One simulated SSD: a file of fixed size accessed with positional I/O through libc
 * ({@code pread}/{@code pwrite}/{@code fdatasync}), with O_DIRECT where the filesystem allows it
 * and buffered I/O + fdatasync otherwise (tmpfs refuses O_DIRECT).
 *
 * <p>Operations return an {@link IoStatus}; a media error is a status, never an exception. Buffers
 * must be direct; with O_DIRECT the buffer address, offset and length must be 512-byte aligned
 * ({@link #allocateAligned(int)} gives such buffers). A drive is used by one I/O thread at a time;
 * its {@link DriveFaults} may be armed from any thread.
 */
public final class Drive implements AutoCloseable
{
    public static final int BLOCK_SIZE_BYTES = 4096;
    /** Largest single transfer; larger requests are a programming error. */
    public static final int TRANSFER_BYTES_MAX = 64 << 20;
    private static final int ZERO_FILL_CHUNK_BYTES = 1 << 20;

    private final Path path;
    private final String name;
    private final int index;
    private final long sizeBytes;
    private final boolean directIo;
    private final DriveFaults faults = new DriveFaults();
    private int fd;
    // counted by the owner thread and by the process's SegmentWriter thread (writes behind): atomic
    private final AtomicLong readCount = new AtomicLong();
    private final AtomicLong writeCount = new AtomicLong();
    private final AtomicLong syncCount = new AtomicLong();
    private final AtomicLong errorCount = new AtomicLong();

    private Drive(final Path path, final int index, final long sizeBytes, final int fd, final boolean directIo)
    {
        this.path = path;
        this.name = path.getFileName().toString();
        this.index = index;
        this.sizeBytes = sizeBytes;
        this.fd = fd;
        this.directIo = directIo;
    }

    /**
     * Opens (creating when {@code create}) the drive file, trying O_DIRECT first.
     *
     * @throws ShelfException when the file cannot be opened.
     */
    static Drive openFile(final Path path, final int index, final long sizeBytes, final boolean create)
    {
        return openFile(path, index, sizeBytes, create, false);
    }

    /**
     * {@link #openFile(Path, int, long, boolean)}; a drive created with {@code zeroed} has every block written with
     * zeros and synced before it is used, so the file has no holes. A simulated SSD should not pay what a sparse file
     * costs on its first write to a block: the host filesystem allocates the block, and the next fdatasync then waits
     * for that metadata's journal commit as well (measured on this box: 157–174 µs for a 64 KiB O_DIRECT write and
     * fdatasync into a hole, 95–102 µs over written blocks; unwritten extents from fallocate cost 208–211 µs).
     *
     * @throws ShelfException when the file cannot be opened, sized or zeroed.
     */
    static Drive openFile(
        final Path path, final int index, final long sizeBytes, final boolean create, final boolean zeroed)
    {
        final String file = path.toString();
        final int baseFlags = NativeIo.O_RDWR | NativeIo.O_CLOEXEC | (create ? NativeIo.O_CREAT : 0);
        boolean directIo = !Boolean.getBoolean("afasim.drive.noDirectIo");
        int fd = directIo ? NativeIo.open(file, baseFlags | NativeIo.O_DIRECT, 0644) : -1;
        if (fd < 0)
        {
            directIo = false;
            fd = NativeIo.open(file, baseFlags, 0644);
        }
        if (fd < 0)
        {
            throw new ShelfException("drive " + path + ": cannot open (errno " + NativeIo.errno() + ")");
        }
        if (create && NativeIo.ftruncate(fd, sizeBytes) != 0)
        {
            final int errno = NativeIo.errno();
            NativeIo.close(fd);
            throw new ShelfException("drive " + path + ": cannot size to " + sizeBytes + " bytes (errno " + errno + ")");
        }
        final Drive drive = new Drive(path, index, sizeBytes, fd, directIo);
        if (create && zeroed)
        {
            drive.writeZeroes();
        }
        return drive;
    }

    /** Writes zeros over the whole new drive and syncs it (see the five-argument {@link #openFile}). */
    private void writeZeroes()
    {
        final ByteBuffer zeros = allocateAligned(ZERO_FILL_CHUNK_BYTES);
        final long address = BufferUtil.address(zeros);
        long done = 0;
        while (done < sizeBytes)
        {
            final long n = NativeIo.pwrite(fd, address, Math.min(ZERO_FILL_CHUNK_BYTES, sizeBytes - done), done);
            if (n < 0 && NativeIo.errno() == NativeIo.EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                final int errno = NativeIo.errno();
                close();
                final String reason = errno == NativeIo.ENOSPC ? ", no space left on the host filesystem" : "";
                throw new ShelfException("drive " + path + ": cannot write zeros at byte " + done + " of " + sizeBytes +
                    " (errno " + errno + reason + ")");
            }
            done += n;
        }
        if (NativeIo.fdatasync(fd) != 0)
        {
            final int errno = NativeIo.errno();
            close();
            throw new ShelfException("drive " + path + ": cannot sync its zeros (errno " + errno + ")");
        }
    }

    /** A direct buffer whose address is aligned to 4 KiB, as O_DIRECT needs. */
    public static ByteBuffer allocateAligned(final int lengthBytes)
    {
        return BufferUtil.allocateDirectAligned(
            (int)ShelfLayout.roundUp(lengthBytes, BLOCK_SIZE_BYTES), BLOCK_SIZE_BYTES);
    }

    public Path path()
    {
        return path;
    }

    public String name()
    {
        return name;
    }

    public int index()
    {
        return index;
    }

    public long sizeBytes()
    {
        return sizeBytes;
    }

    public boolean directIo()
    {
        return directIo;
    }

    public DriveFaults faults()
    {
        return faults;
    }

    public long readCount()
    {
        return readCount.get();
    }

    public long writeCount()
    {
        return writeCount.get();
    }

    public long syncCount()
    {
        return syncCount.get();
    }

    public long errorCount()
    {
        return errorCount.get();
    }

    /**
     * Reads {@code lengthBytes} at {@code offsetBytes} into {@code buffer} at {@code bufferOffset}.
     *
     * @return {@link IoStatus#OK}, {@link IoStatus#MEDIA_ERROR} or {@link IoStatus#OUT_OF_RANGE}.
     */
    public int read(final long offsetBytes, final ByteBuffer buffer, final int bufferOffset, final int lengthBytes)
    {
        final long address = checkTransfer(offsetBytes, buffer, bufferOffset, lengthBytes);
        if (address == 0)
        {
            return IoStatus.OUT_OF_RANGE;
        }
        readCount.incrementAndGet();
        if (faults.armed())
        {
            applyDelay();
            if (faults.takeFailRead())
            {
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
        }
        long done = 0;
        while (done < lengthBytes)
        {
            final long n = NativeIo.pread(fd, address + done, lengthBytes - done, offsetBytes + done);
            if (n < 0)
            {
                if (NativeIo.errno() == NativeIo.EINTR)
                {
                    continue;
                }
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
            if (n == 0)
            {
                // reading past the end of a sparse file that was never extended: the drive is short
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
            done += n;
        }
        if (faults.armed() && faults.takeCorruptRead())
        {
            flipBitPerBlock(buffer, bufferOffset, lengthBytes);
        }
        return IoStatus.OK;
    }

    /**
     * Writes {@code lengthBytes} from {@code buffer} at {@code bufferOffset} to {@code offsetBytes}.
     * Not durable until {@link #sync()}.
     *
     * @return {@link IoStatus#OK}, {@link IoStatus#MEDIA_ERROR} or {@link IoStatus#OUT_OF_RANGE}.
     */
    public int write(final long offsetBytes, final ByteBuffer buffer, final int bufferOffset, final int lengthBytes)
    {
        long address = checkTransfer(offsetBytes, buffer, bufferOffset, lengthBytes);
        if (address == 0)
        {
            return IoStatus.OUT_OF_RANGE;
        }
        writeCount.incrementAndGet();
        ByteBuffer corrupted = null;
        if (faults.armed())
        {
            applyDelay();
            if (faults.takeFailWrite())
            {
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
            if (faults.takeCorruptWrite())
            {
                corrupted = allocateAligned(lengthBytes);
                corrupted.put(0, buffer, bufferOffset, lengthBytes);
                flipBitPerBlock(corrupted, 0, lengthBytes);
                address = BufferUtil.address(corrupted);
            }
        }
        long done = 0;
        while (done < lengthBytes)
        {
            final long n = NativeIo.pwrite(fd, address + done, lengthBytes - done, offsetBytes + done);
            if (n < 0)
            {
                if (NativeIo.errno() == NativeIo.EINTR)
                {
                    continue;
                }
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
            done += n;
        }
        return IoStatus.OK;
    }

    /** Makes every completed write durable (fdatasync). */
    public int sync()
    {
        syncCount.incrementAndGet();
        if (faults.armed())
        {
            faults.awaitSyncRelease();
            if (faults.takeFailSync())
            {
                errorCount.incrementAndGet();
                return IoStatus.MEDIA_ERROR;
            }
        }
        if (NativeIo.fdatasync(fd) != 0)
        {
            errorCount.incrementAndGet();
            return IoStatus.MEDIA_ERROR;
        }
        return IoStatus.OK;
    }

    @Override
    public void close()
    {
        if (fd >= 0)
        {
            NativeIo.close(fd);
            fd = -1;
        }
    }

    @Override
    public String toString()
    {
        return "Drive{" + name + ", index=" + index + ", sizeBytes=" + sizeBytes + ", directIo=" + directIo + '}';
    }

    /** Returns the buffer address of the transfer, or 0 when offset/length are outside the drive. */
    private long checkTransfer(
        final long offsetBytes, final ByteBuffer buffer, final int bufferOffset, final int lengthBytes)
    {
        if (fd < 0)
        {
            throw new IllegalStateException("drive " + name + " is closed");
        }
        if (!buffer.isDirect())
        {
            throw new IllegalArgumentException("drive I/O needs a direct buffer");
        }
        if (lengthBytes <= 0 || lengthBytes > TRANSFER_BYTES_MAX || bufferOffset < 0 ||
            bufferOffset > buffer.capacity() - lengthBytes)
        {
            throw new IllegalArgumentException("bad transfer: bufferOffset=" + bufferOffset + " lengthBytes=" +
                lengthBytes + " capacity=" + buffer.capacity());
        }
        final long address = BufferUtil.address(buffer) + bufferOffset;
        if (directIo)
        {
            final int mask = NativeIo.DIRECT_ALIGNMENT_BYTES - 1;
            if ((address & mask) != 0 || (offsetBytes & mask) != 0 || (lengthBytes & mask) != 0)
            {
                throw new IllegalArgumentException("O_DIRECT transfer not 512-byte aligned: address=0x" +
                    Long.toHexString(address) + " offsetBytes=" + offsetBytes + " lengthBytes=" + lengthBytes);
            }
        }
        if (offsetBytes < 0 || offsetBytes > sizeBytes - lengthBytes)
        {
            return 0;
        }
        return address;
    }

    private void applyDelay()
    {
        final long delayNs = faults.takeDelayNs();
        if (delayNs > 0)
        {
            LockSupport.parkNanos(delayNs);
        }
    }

    private static void flipBitPerBlock(final ByteBuffer buffer, final int offset, final int lengthBytes)
    {
        for (int at = offset; at < offset + lengthBytes; at += BLOCK_SIZE_BYTES)
        {
            final int index = at + Math.min(BLOCK_SIZE_BYTES, offset + lengthBytes - at) / 2;
            buffer.put(index, (byte)(buffer.get(index) ^ 0x10));
        }
    }
}
