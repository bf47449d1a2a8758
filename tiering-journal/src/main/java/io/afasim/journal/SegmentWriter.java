package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Write-behind for segment logs: one daemon thread ("segment-writer") that performs the full-staging-buffer
 * pwrites of every {@link SegmentLog} configured with it, so the owner thread (a volume agent) goes on serving
 * host requests while the drive takes the 256 KiB O_DIRECT write. Measured before it: a volume agent at 1-way-WB
 * iodepth 32 spent about 19 % of its wall time blocked in those pwrites and in fdatasync, and the two cores sat
 * 18-20 % idle. fdatasync stays with the owner's {@link SegmentLog#sync()}, which first waits for its writes.
 *
 * <p>A log hands over a {@link Slot} (its own preallocated staging buffer and request; nothing is allocated per
 * write) and learns the result from the slot's volatile status; it never reuses a slot before the status is set.
 */
public final class SegmentWriter
{
    /** A slot's status while its write is queued or running. */
    static final int PENDING = Integer.MIN_VALUE;
    private static final int QUEUE_CAPACITY = 1024;
    /** A submit unparks the thread (no lost wake-up: see {@link #submit}); the timeout is only a safety net. */
    private static final long IDLE_PARK_NS = 100_000_000;
    private static SegmentWriter shared;

    private final ManyToOneConcurrentArrayQueue<Slot> queue = new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final Thread thread;
    private volatile boolean parked;

    private SegmentWriter()
    {
        thread = new Thread(this::run, "segment-writer");
        thread.setDaemon(true);
        thread.start();
    }

    /** The process's writer, started on first use (one thread for every log of the process). */
    public static synchronized SegmentWriter shared()
    {
        if (shared == null)
        {
            shared = new SegmentWriter();
        }
        return shared;
    }

    /** Owner thread: queues the slot's write (its status is {@link #PENDING} until done). */
    void submit(final Slot slot)
    {
        slot.status = PENDING;
        while (!queue.offer(slot))
        {
            Thread.onSpinWait(); // 1024 slots of 256 KiB in flight: the drives are far behind, wait for them
        }
        if (parked)
        {
            LockSupport.unpark(thread);
        }
    }

    private void run()
    {
        while (true)
        {
            final Slot slot = queue.poll();
            if (slot == null)
            {
                parked = true;
                if (queue.isEmpty())
                {
                    LockSupport.parkNanos(IDLE_PARK_NS);
                }
                parked = false;
                continue;
            }
            int status;
            try
            {
                status = slot.drive.write(slot.offsetBytes, slot.buffer, 0, slot.lengthBytes);
            }
            catch (final Throwable ex)
            {
                status = IoStatus.MEDIA_ERROR; // the owner fails its log at the next sync; this thread lives on
            }
            slot.status = status;
        }
    }

    /**
     * One staging buffer of a log and the write it is handed over for: drive, offset, length, and which blocks
     * of which segment it holds (so the log serves reads of them from memory until the slot is reused).
     */
    static final class Slot
    {
        final ByteBuffer buffer;
        final UnsafeBuffer view;
        Drive drive;
        long offsetBytes;
        int lengthBytes;
        int segmentId = -1;
        int firstBlock;
        int blockCount;
        volatile int status = IoStatus.OK;

        Slot(final int lengthBytes)
        {
            this.buffer = Drive.allocateAligned(lengthBytes);
            this.view = new UnsafeBuffer(buffer);
        }

        boolean holds(final int segmentId, final int blockIndex)
        {
            return this.segmentId == segmentId && blockIndex >= firstBlock && blockIndex < firstBlock + blockCount;
        }

        /** Owner thread: waits (bounded by the drive's write time) until the slot's write is done; its status. */
        int await()
        {
            int tries = 0;
            int result;
            while ((result = status) == PENDING)
            {
                // a 256 KiB write takes about 200 µs here: yield through it (a timed park would add the kernel's
                // 50 µs timer slack), park only if the drive is slower than that
                if (++tries < 1_000)
                {
                    Thread.yield();
                }
                else
                {
                    LockSupport.parkNanos(50_000);
                }
            }
            return result;
        }
    }
}
