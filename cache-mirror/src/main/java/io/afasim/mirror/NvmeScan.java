package io.afasim.mirror;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

import org.agrona.collections.IntArrayList;

/**
 * What {@link NvmeRecovery#scan} found in a region: per volume the ordered changes to replay, the slots and
 * records that are free (never used, freed, or holding a torn/corrupt entry: those are reclaimed by
 * {@link NvmeCache}), the counts of entries ignored, and the highest sequence seen.
 */
public final class NvmeScan
{
    private final Map<Integer, RecoveredVolume> volumes;
    private final IntArrayList freeSlots;
    private final IntArrayList freeRecords;
    private final int tornDescriptorCount;
    private final int corruptPageCount;
    private final int tornRecordCount;
    private final int supersededCount;
    private final long maxSequence;

    NvmeScan(
        final Map<Integer, RecoveredVolume> volumes,
        final IntArrayList freeSlots,
        final IntArrayList freeRecords,
        final int tornDescriptorCount,
        final int corruptPageCount,
        final int tornRecordCount,
        final int supersededCount,
        final long maxSequence)
    {
        this.volumes = Collections.unmodifiableMap(new TreeMap<>(volumes));
        this.freeSlots = freeSlots;
        this.freeRecords = freeRecords;
        this.tornDescriptorCount = tornDescriptorCount;
        this.corruptPageCount = corruptPageCount;
        this.tornRecordCount = tornRecordCount;
        this.supersededCount = supersededCount;
        this.maxSequence = maxSequence;
    }

    /** Volumes with cached changes, by volume id. */
    public Map<Integer, RecoveredVolume> volumes()
    {
        return volumes;
    }

    /** The volume's recovered changes (empty when it had none). */
    public RecoveredVolume volume(final int volumeId)
    {
        final RecoveredVolume volume = volumes.get(volumeId);
        return volume != null ? volume : RecoveredVolume.empty(volumeId);
    }

    IntArrayList freeSlots()
    {
        return freeSlots;
    }

    IntArrayList freeRecords()
    {
        return freeRecords;
    }

    /** Descriptors with a sequence whose entry crc32c (or kind/version) is wrong: torn while written. */
    public int tornDescriptorCount()
    {
        return tornDescriptorCount;
    }

    /** Descriptors that are whole but whose page does not match the data crc32c. */
    public int corruptPageCount()
    {
        return corruptPageCount;
    }

    /** Transaction records with a sequence whose entry crc32c (or kind/version) is wrong. */
    public int tornRecordCount()
    {
        return tornRecordCount;
    }

    /** Valid pages overridden by a later page or TRIM/WRITE_ZEROES of the same volume. */
    public int supersededCount()
    {
        return supersededCount;
    }

    /** Sum of torn and corrupt entries ignored. */
    public int ignoredCount()
    {
        return tornDescriptorCount + corruptPageCount + tornRecordCount;
    }

    /** Highest sequence of a valid entry (0 if none): new sequences continue above it. */
    public long maxSequence()
    {
        return maxSequence;
    }

    /** Changes to replay over all volumes. */
    public int changeCount()
    {
        int count = 0;
        for (final RecoveredVolume volume : volumes.values())
        {
            count += volume.changes().size();
        }
        return count;
    }

    @Override
    public String toString()
    {
        return "NvmeScan{volumes=" + volumes.size() + ", changes=" + changeCount() + ", tornDescriptors=" +
            tornDescriptorCount + ", corruptPages=" + corruptPageCount + ", tornRecords=" + tornRecordCount +
            ", superseded=" + supersededCount + ", maxSequence=" + maxSequence + '}';
    }
}
