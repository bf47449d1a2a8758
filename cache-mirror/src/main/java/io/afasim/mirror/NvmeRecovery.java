package io.afasim.mirror;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.agrona.collections.IntArrayList;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * T1 warm restart: reads every descriptor and transaction record of a region (opened, so its header is
 * already validated by {@link NvmeRegion#open}) and rebuilds, per volume, the ordered list of acknowledged
 * changes that were not destaged and freed.
 *
 * <ul>
 *   <li>sequence 0: free.</li>
 *   <li>entry crc32c wrong, or unknown kind/version, or a kind in the wrong area: torn, ignored, counted.
 *   Such an entry was never acknowledged: the sequence is stored last and the acknowledgement follows.</li>
 *   <li>page whose crc32c differs from the descriptor's data crc32c: corrupt, ignored, counted.</li>
 *   <li>a page overridden by a later page of the same LBA or a later TRIM/WRITE_ZEROES covering it:
 *   superseded (freed on adoption).</li>
 * </ul>
 * Runs once at start, before any volume agent: allocation is fine here.
 */
public final class NvmeRecovery
{
    private NvmeRecovery()
    {
    }

    public static NvmeScan scan(final NvmeRegion region)
    {
        final UnsafeBuffer buffer = region.buffer();
        final Crc32cCalculator crc = new Crc32cCalculator(region.mapped());
        final Map<Integer, List<RecoveredChange>> byVolume = new HashMap<>();
        final IntArrayList freeSlots = new IntArrayList(region.slotCount(), -1);
        final IntArrayList freeRecords = new IntArrayList(region.recordCount(), -1);
        int tornDescriptors = 0;
        int corruptPages = 0;
        int tornRecords = 0;
        long maxSequence = 0;

        for (int slot = 0; slot < region.slotCount(); slot++)
        {
            final int offset = region.descriptorOffset(slot);
            final long sequence = buffer.getLongVolatile(offset);
            if (sequence == 0)
            {
                freeSlots.addInt(slot);
                continue;
            }
            if (!isWholeEntry(buffer, crc, offset) || ChangeEntry.kind(buffer, offset) != ChangeEntry.KIND_PAGE ||
                ChangeEntry.blockCount(buffer, offset) != 1)
            {
                tornDescriptors++;
                freeSlots.addInt(slot);
                continue;
            }
            final int dataCrc = ChangeEntry.dataCrc(buffer, offset);
            if (crc.region(region.pageOffset(slot), NvmeRegion.BLOCK_SIZE_BYTES) != dataCrc)
            {
                corruptPages++;
                freeSlots.addInt(slot);
                continue;
            }
            maxSequence = Math.max(maxSequence, sequence);
            byVolume.computeIfAbsent(ChangeEntry.volumeId(buffer, offset), id -> new ArrayList<>()).add(
                new RecoveredChange(ChangeEntry.KIND_PAGE, slot, sequence, ChangeEntry.lba(buffer, offset), 1, dataCrc));
        }

        for (int record = 0; record < region.recordCount(); record++)
        {
            final int offset = region.recordOffset(record);
            final long sequence = buffer.getLongVolatile(offset);
            if (sequence == 0)
            {
                freeRecords.addInt(record);
                continue;
            }
            final short kind = ChangeEntry.kind(buffer, offset);
            if (!isWholeEntry(buffer, crc, offset) || kind == ChangeEntry.KIND_PAGE ||
                ChangeEntry.blockCount(buffer, offset) < 1)
            {
                tornRecords++;
                freeRecords.addInt(record);
                continue;
            }
            maxSequence = Math.max(maxSequence, sequence);
            byVolume.computeIfAbsent(ChangeEntry.volumeId(buffer, offset), id -> new ArrayList<>()).add(
                new RecoveredChange(kind, record, sequence, ChangeEntry.lba(buffer, offset),
                ChangeEntry.blockCount(buffer, offset), 0));
        }

        final Map<Integer, RecoveredVolume> volumes = new HashMap<>();
        int superseded = 0;
        for (final Map.Entry<Integer, List<RecoveredChange>> entry : byVolume.entrySet())
        {
            final RecoveredVolume volume = prune(entry.getKey(), entry.getValue());
            superseded += volume.superseded().size();
            volumes.put(entry.getKey(), volume);
        }
        return new NvmeScan(
            volumes, freeSlots, freeRecords, tornDescriptors, corruptPages, tornRecords, superseded, maxSequence);
    }

    private static boolean isWholeEntry(final UnsafeBuffer buffer, final Crc32cCalculator crc, final int offset)
    {
        final short version = buffer.getShort(offset + ChangeEntry.VERSION_OFFSET);
        return crc.region(offset, ChangeEntry.CHECKSUM_OFFSET) == buffer.getInt(offset + ChangeEntry.CHECKSUM_OFFSET) &&
            version == ChangeEntry.VERSION && ChangeEntry.isKind(ChangeEntry.kind(buffer, offset));
    }

    /** Sorts by sequence and splits off pages that a later change of the same volume overrides. */
    private static RecoveredVolume prune(final int volumeId, final List<RecoveredChange> changes)
    {
        changes.sort(Comparator.comparingLong(RecoveredChange::sequence));
        final LongHashSet laterPageLbas = new LongHashSet();
        final List<RecoveredChange> laterRecords = new ArrayList<>();
        final List<RecoveredChange> kept = new ArrayList<>();
        final List<RecoveredChange> superseded = new ArrayList<>();
        for (int i = changes.size() - 1; i >= 0; i--)
        {
            final RecoveredChange change = changes.get(i);
            if (i > 0 && changes.get(i - 1).sequence() == change.sequence())
            {
                throw new IllegalStateException("volume " + volumeId + ": two entries with sequence " +
                    change.sequence() + ": " + change + ", " + changes.get(i - 1));
            }
            if (!change.isPage())
            {
                laterRecords.add(change);
                kept.add(change);
            }
            else if (laterPageLbas.contains(change.lba()) || isCovered(laterRecords, change.lba()))
            {
                superseded.add(change);
            }
            else
            {
                laterPageLbas.add(change.lba());
                kept.add(change);
            }
        }
        java.util.Collections.reverse(kept);
        return new RecoveredVolume(volumeId, kept, superseded);
    }

    private static boolean isCovered(final List<RecoveredChange> records, final long lba)
    {
        for (final RecoveredChange record : records)
        {
            if (record.covers(lba))
            {
                return true;
            }
        }
        return false;
    }
}
