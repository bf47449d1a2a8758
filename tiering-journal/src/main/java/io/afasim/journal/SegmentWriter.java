package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Write-behind for segment logs: one daemon thread ("segment-writer") that performs the full-staging-buffer
 * pwrites of every {@link SegmentLog} configured with it, so the owner thread (a volume agent) goes on serving
 * host requests while the drive takes the 256 KiB O_DIRECT write. Measured before it: a volume agent at 1-way-WB
 * iodepth 32 spent about 19 % of its wall time blocked in those pwrites and in fdatasync, and the two cores sat
 * 18-20 % idle. A log's {@link SegmentLog#syncStart()} queues its commit-time writes (the partial buffer, the open
 * segment's summary) and then an fdatasync of the drives written ({@link Slot#syncDrive}): the queue is FIFO and
 * served by this one thread, so the fdatasync runs after every write the log queued before it, and it fails when any
 * of those writes failed ({@link Account}).
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
            int status = IoStatus.OK;
            final boolean sync = slot.syncDrives != null;
            try
            {
                if (sync)
                {
                    if (slot.account.failures != slot.account.failuresAtReset)
                    {
                        status = IoStatus.MEDIA_ERROR; // a write it covers failed: the log drops what it returned
                    }
                    for (int i = 0; i < slot.syncDriveCount && status == IoStatus.OK; i++)
                    {
                        status = slot.syncDrives[i].sync();
                    }
                }
                else
                {
                    status = slot.drive.write(slot.offsetBytes, slot.buffer, 0, slot.lengthBytes);
                }
            }
            catch (final Throwable ex)
            {
                status = IoStatus.MEDIA_ERROR; // the owner fails its log at the next sync; this thread lives on
            }
            if (status != IoStatus.OK && !sync)
            {
                slot.account.failures++; // this thread alone counts
            }
            complete(slot, status);
        }
    }

    /**
     * Sets the slot's status, with its listeners around it: {@code done} before, so that once a sync's status is
     * set its listener has returned (it never runs for a sync its owner has already completed and followed with
     * another); {@code wake} after, when the owner can see the status. A listener's failure is its owner's: this
     * thread serves every log.
     */
    private static void complete(final Slot slot, final int status)
    {
        final IntConsumer done = slot.done;
        final Runnable wake = slot.wake;
        try
        {
            if (done != null)
            {
                done.accept(status);
            }
        }
        catch (final Throwable ignore)
        {
            // the owner takes the batch over when it polls
        }
        slot.status = status;
        try
        {
            if (wake != null)
            {
                wake.run();
            }
        }
        catch (final Throwable ignore)
        {
            // the owner polls on its next duty cycle all the same
        }
    }

    /**
     * One log's failed writes: counted by the writer's thread; a sync fails while any write since the log's last
     * failed sync ({@link #failuresAtReset}, set by the owner once its writes are done) has failed.
     */
    static final class Account
    {
        volatile int failures;
        volatile int failuresAtReset;
    }

    /**
     * One buffer of a log and the write it is handed over for: drive, offset, length, and which blocks of which
     * segment it holds (so the log serves reads of them from memory until the slot is reused). Or, with
     * {@link #syncDrive} calls and no buffer, an fdatasync of those drives.
     */
    static final class Slot
    {
        final ByteBuffer buffer;
        final UnsafeBuffer view;
        final Drive[] syncDrives;
        int syncDriveCount;
        Drive drive;
        long offsetBytes;
        int lengthBytes;
        int segmentId = -1;
        int firstBlock;
        int blockCount;
        /** The owner's count of submissions when this one was submitted: orders it against a sync. */
        long sequence;
        /** Run on the writer's thread with the status, just before it is set, or null. */
        volatile IntConsumer done;
        /** Run on the writer's thread just after the status is set (the owner can see it), or null. */
        volatile Runnable wake;
        /** The log whose write this is (failed writes are counted there). */
        Account account;
        volatile int status = IoStatus.OK;

        Slot(final int lengthBytes)
        {
            this(Drive.allocateAligned(lengthBytes), null);
        }

        private Slot(final ByteBuffer buffer, final Drive[] syncDrives)
        {
            this.buffer = buffer;
            this.view = buffer == null ? null : new UnsafeBuffer(buffer);
            this.syncDrives = syncDrives;
        }

        /** A slot for fdatasyncs of up to {@code driveCountMax} drives. */
        static Slot forSync(final int driveCountMax)
        {
            return new Slot(null, new Drive[driveCountMax]);
        }

        void syncDrive(final Drive drive)
        {
            syncDrives[syncDriveCount++] = drive;
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
