package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.function.LongSupplier;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.IntArrayList;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Cleaner of one {@link SegmentLog}, run on the log's writer thread. Victims are chosen by the cost-benefit
 * policy of the LFS paper (Rosenblum and Ousterhout, "The Design and Implementation of a Log-Structured File
 * System", 1992):
 *
 * <pre>
 *   benefit / cost = (1 - u) * age / (1 + u)
 *   u   = live blocks / data blocks per segment
 *   age = now - seal time (ms, from the injected clock; the same epoch as {@link SegmentLogContext#clock()})
 * </pre>
 *
 * A sealed segment with u = 0 is always chosen first (freed without copying), older first among them. The open
 * segment and full segments (u = 1, nothing to gain) are never chosen.
 *
 * <p>Protocol for one victim: {@link #clean} relocates its live blocks and tells the listener each new PBA (the
 * listener updates the mapping and marks the old PBA dead); the caller then {@link SegmentLog#sync()}s, commits
 * its metadata, and calls {@link SegmentLog#release(int)}. If the sync fails, the relocations are void: keep the
 * old mapping and do not release.
 */
public final class SegmentCleaner
{
    /** Largest number of victims one {@link #selectVictims} call returns. */
    public static final int VICTIMS_MAX = 64;

    /** Decides whether a block still holds referenced data. */
    @FunctionalInterface
    public interface LivenessOracle
    {
        boolean isLive(long pba);
    }

    /** Told about each block moved; runs on the cleaner's thread before {@link #clean} returns. */
    @FunctionalInterface
    public interface RelocationListener
    {
        void onRelocated(long oldPba, long newPba, DirectBuffer block, int offset);
    }

    private final SegmentLog log;
    private final LongSupplier clockMs;
    private final ByteBuffer summaryByteBuffer;
    private final UnsafeBuffer summary;
    private final double[] victimScores = new double[VICTIMS_MAX];
    private final long[] victimAges = new long[VICTIMS_MAX];
    private final int[] victimIds = new int[VICTIMS_MAX];
    private long segmentsCleaned;
    private long blocksMoved;
    private long cleanErrorCount;

    /**
     * @param log     the log to clean.
     * @param clockMs wall clock in epoch ms, comparable with the seal times the log records.
     */
    public SegmentCleaner(final SegmentLog log, final LongSupplier clockMs)
    {
        this.log = log;
        this.clockMs = clockMs;
        this.summaryByteBuffer = Drive.allocateAligned(log.summaryLengthBytes());
        this.summary = new UnsafeBuffer(summaryByteBuffer);
    }

    /** Cost-benefit score of a segment; {@link Double#POSITIVE_INFINITY} when it holds no live block. */
    public static double score(final int liveBlocks, final int dataBlocksPerSegment, final long ageMs)
    {
        if (liveBlocks == 0)
        {
            return Double.POSITIVE_INFINITY;
        }
        final double u = (double)liveBlocks / dataBlocksPerSegment;
        return (1.0 - u) * Math.max(0, ageMs) / (1.0 + u);
    }

    /**
     * Picks up to {@code max} victims, best first, into {@code out} (cleared first).
     *
     * @return the number of victims chosen.
     */
    public int selectVictims(final int max, final IntArrayList out)
    {
        if (max < 1 || max > VICTIMS_MAX)
        {
            throw new IllegalArgumentException("max=" + max + " not in [1, " + VICTIMS_MAX + "]");
        }
        out.clear();
        final long nowMs = clockMs.getAsLong();
        final int dataBlocks = log.layout().dataBlocksPerSegment();
        final int openSegment = log.openSegment();
        int count = 0;
        for (int i = 0; i < log.ownedSegmentCount(); i++)
        {
            final int id = log.ownedSegmentId(i);
            final int live = log.liveBlocks(id);
            final long sealTimeMs = log.sealTimeMs(id);
            if (id == openSegment || sealTimeMs < 0 || live >= dataBlocks)
            {
                continue;
            }
            final long ageMs = nowMs - sealTimeMs;
            final double score = score(live, dataBlocks, ageMs);
            count = insert(count, max, id, score, ageMs);
        }
        for (int i = 0; i < count; i++)
        {
            out.addInt(victimIds[i]);
        }
        assert count <= max : "count=" + count;
        return count;
    }

    /** Keeps the best {@code max} in victim arrays sorted best first (higher score, then older). */
    private int insert(final int count, final int max, final int id, final double score, final long ageMs)
    {
        int at = count;
        while (at > 0 && better(score, ageMs, victimScores[at - 1], victimAges[at - 1]))
        {
            at--;
        }
        if (at >= max)
        {
            return count;
        }
        final int last = Math.min(count, max - 1);
        for (int i = last; i > at; i--)
        {
            victimScores[i] = victimScores[i - 1];
            victimAges[i] = victimAges[i - 1];
            victimIds[i] = victimIds[i - 1];
        }
        victimScores[at] = score;
        victimAges[at] = ageMs;
        victimIds[at] = id;
        return Math.min(count + 1, max);
    }

    private static boolean better(final double score, final long ageMs, final double otherScore, final long otherAgeMs)
    {
        return score > otherScore || (score == otherScore && ageMs > otherAgeMs);
    }

    /**
     * Moves every written block of {@code segmentId} that {@code oracle} calls live to the log's open segment.
     *
     * @param scratch at least one 4 KiB block, used to carry each block.
     * @return blocks moved (&gt;= 0), or a negative {@link IoStatus}: a summary or block that cannot be read
     *         (MEDIA_ERROR, CHECKSUM_MISMATCH) or a relocation that fails (NO_SPACE, MEDIA_ERROR). The segment then
     *         stays in place; blocks already moved were reported to the listener.
     */
    public int clean(
        final int segmentId,
        final LivenessOracle oracle,
        final RelocationListener listener,
        final MutableDirectBuffer scratch)
    {
        if (segmentId == log.openSegment())
        {
            throw new IllegalArgumentException("clean(" + segmentId + "): the open segment cannot be cleaned");
        }
        if (log.sealTimeMs(segmentId) < 0)
        {
            throw new IllegalArgumentException("clean(" + segmentId + "): not a sealed segment of owner " +
                log.ownerId());
        }
        if (scratch.capacity() < ShelfLayout.BLOCK_SIZE_BYTES)
        {
            throw new IllegalArgumentException("scratch capacity " + scratch.capacity() + " < one block");
        }
        final ShelfLayout layout = log.layout();
        final int written = log.writtenBlocks(segmentId);
        int moved = 0;
        boolean summaryLoaded = false;
        for (int b = 0; b < written; b++)
        {
            final long oldPba = layout.pba(segmentId, b);
            if (!layout.isDataPba(oldPba) || !oracle.isLive(oldPba))
            {
                continue;
            }
            if (!summaryLoaded)
            {
                final int onDisk = log.loadSummary(segmentId, summaryByteBuffer, summary);
                if (onDisk < 0)
                {
                    return error(onDisk);
                }
                if (onDisk < written)
                {
                    throw new IllegalStateException("segment " + segmentId + ": summary on disk has " + onDisk +
                        " entries, the log " + written);
                }
                summaryLoaded = true;
            }
            final int readStatus = log.read(oldPba, scratch, 0);
            if (readStatus != IoStatus.OK)
            {
                return error(readStatus);
            }
            final long newPba = log.relocate(SegmentLog.summaryLba(summary, b), scratch, 0);
            if (newPba < 0)
            {
                return error((int)newPba);
            }
            listener.onRelocated(oldPba, newPba, scratch, 0);
            moved++;
            blocksMoved++;
        }
        segmentsCleaned++;
        return moved;
    }

    private int error(final int status)
    {
        cleanErrorCount++;
        return status;
    }

    public long segmentsCleaned()
    {
        return segmentsCleaned;
    }

    public long blocksMoved()
    {
        return blocksMoved;
    }

    /** Clean passes stopped by a read or relocation error. */
    public long cleanErrorCount()
    {
        return cleanErrorCount;
    }
}
