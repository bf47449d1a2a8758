package io.afasim.mirror;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Configuration of a controller's NVMe memory and write cache (Aeron {@code Context} style): defaults come
 * from {@code *_PROP_NAME} system properties or the {@code *_DEFAULT} constants, setters return
 * {@code this}, and {@link #conclude()} validates every value once, naming the bad one, and derives the
 * slot limits from the region geometry.
 *
 * <p>Dirty-space limits, all in page slots (one slot = one 4 KiB page + one 64-byte descriptor):
 * <pre>
 *   slotCount          from regionSizeBytes and recordCount ({@link NvmeRegion#slotCountFor})
 *   globalHighSlots    slotCount x globalHighWatermarkPercent: slots in use at or above it latch global
 *                      pressure: every volume is urged to destage, volumes above their fair share get
 *                      BACK_PRESSURE
 *   globalLowSlots     slotCount x globalLowWatermarkPercent: global pressure ends at or below it
 *   volumeFairSlots    (slotCount - globalHighSlots) / volumeCountMax - 1: a volume holding fewer slots
 *                      is never refused under global pressure, so no volume can be starved by others
 *                      (the -1 covers each volume's one racing take past the watermark check)
 *   volumeSlotsMax     slotCount x volumeDirtyPercentMax: a volume's cap (its high watermark); reaching it
 *                      latches the volume's BACK_PRESSURE until it destages down to volumeLowSlots
 *   volumeLowSlots     volumeSlotsMax x volumeLowWatermarkPercent
 * </pre>
 * Records: a volume holds at most volumeRecordsMax transaction records, and
 * {@code volumeCountMax x volumeRecordsMax <= recordCount}, so records cannot be starved.
 */
public final class CacheContext
{
    /** The mapped NVMe memory file, normally {@code /dev/shm/afasim/<array>/<node>/nvme}. */
    public static final String REGION_PATH_PROP_NAME = "afasim.nvme.path";
    public static final String REGION_PATH_DEFAULT = "/dev/shm/afasim/default/node-0/nvme";

    /** Size of the NVMe memory file (one mapping: at most 2 GiB). */
    public static final String REGION_SIZE_BYTES_PROP_NAME = "afasim.nvme.size.bytes";
    public static final long REGION_SIZE_BYTES_DEFAULT = 256L << 20;

    /** Transaction records (TRIM / WRITE_ZEROES) in the record area. */
    public static final String RECORD_COUNT_PROP_NAME = "afasim.nvme.record.count";
    public static final int RECORD_COUNT_DEFAULT = 4096;
    public static final int RECORD_COUNT_MAX = 1 << 20;

    /** The array this region belongs to. */
    public static final String ARRAY_ID_PROP_NAME = "afasim.array.id";
    public static final String ARRAY_ID_DEFAULT = "00000000-0000-0000-0000-000000000000";

    /** The controller (node) this region belongs to. */
    public static final String NODE_ID_PROP_NAME = "afasim.node.id";
    public static final int NODE_ID_DEFAULT = 0;
    /** Dual-controller array: nodes 0 (A) and 1 (B). */
    public static final int NODE_ID_MAX = 1;

    /** Volumes that may share the region at once (fair-share divisor). */
    public static final String VOLUME_COUNT_MAX_PROP_NAME = "afasim.cache.volume.count.max";
    public static final int VOLUME_COUNT_MAX_DEFAULT = 64;
    public static final int VOLUME_COUNT_MAX_LIMIT = 4096;

    public static final String GLOBAL_HIGH_WATERMARK_PERCENT_PROP_NAME = "afasim.cache.global.high.watermark.percent";
    public static final int GLOBAL_HIGH_WATERMARK_PERCENT_DEFAULT = 80;
    public static final String GLOBAL_LOW_WATERMARK_PERCENT_PROP_NAME = "afasim.cache.global.low.watermark.percent";
    public static final int GLOBAL_LOW_WATERMARK_PERCENT_DEFAULT = 60;

    /** A volume's cap (high watermark) as a percentage of all slots. */
    public static final String VOLUME_DIRTY_PERCENT_MAX_PROP_NAME = "afasim.cache.volume.dirty.percent.max";
    public static final int VOLUME_DIRTY_PERCENT_MAX_DEFAULT = 25;
    /** A volume's low watermark as a percentage of its cap. */
    public static final String VOLUME_LOW_WATERMARK_PERCENT_PROP_NAME = "afasim.cache.volume.low.watermark.percent";
    public static final int VOLUME_LOW_WATERMARK_PERCENT_DEFAULT = 50;

    /** Transaction records a volume may hold (also bounds the per-read trim check). */
    public static final String VOLUME_RECORDS_MAX_PROP_NAME = "afasim.cache.volume.records.max";
    public static final int VOLUME_RECORDS_MAX_DEFAULT = 64;
    public static final int VOLUME_RECORDS_MAX_LIMIT = 4096;

    /** Changes handed to the layer below in one destage batch. */
    public static final String DESTAGE_BATCH_MAX_PROP_NAME = "afasim.cache.destage.batch.max";
    public static final int DESTAGE_BATCH_MAX_DEFAULT = 64;
    public static final int DESTAGE_BATCH_MAX_LIMIT = 4096;

    /** msync the region on FUA and FLUSH (free on tmpfs). */
    public static final String FORCE_ON_FUA_PROP_NAME = "afasim.cache.force.on.fua";
    public static final boolean FORCE_ON_FUA_DEFAULT = true;

    private Path regionPath = Path.of(System.getProperty(REGION_PATH_PROP_NAME, REGION_PATH_DEFAULT));
    private long regionSizeBytes = Long.getLong(REGION_SIZE_BYTES_PROP_NAME, REGION_SIZE_BYTES_DEFAULT);
    private int recordCount = Integer.getInteger(RECORD_COUNT_PROP_NAME, RECORD_COUNT_DEFAULT);
    private String arrayIdText = System.getProperty(ARRAY_ID_PROP_NAME, ARRAY_ID_DEFAULT);
    private UUID arrayId;
    private int nodeId = Integer.getInteger(NODE_ID_PROP_NAME, NODE_ID_DEFAULT);
    private int volumeCountMax = Integer.getInteger(VOLUME_COUNT_MAX_PROP_NAME, VOLUME_COUNT_MAX_DEFAULT);
    private int globalHighWatermarkPercent =
        Integer.getInteger(GLOBAL_HIGH_WATERMARK_PERCENT_PROP_NAME, GLOBAL_HIGH_WATERMARK_PERCENT_DEFAULT);
    private int globalLowWatermarkPercent =
        Integer.getInteger(GLOBAL_LOW_WATERMARK_PERCENT_PROP_NAME, GLOBAL_LOW_WATERMARK_PERCENT_DEFAULT);
    private int volumeDirtyPercentMax =
        Integer.getInteger(VOLUME_DIRTY_PERCENT_MAX_PROP_NAME, VOLUME_DIRTY_PERCENT_MAX_DEFAULT);
    private int volumeLowWatermarkPercent =
        Integer.getInteger(VOLUME_LOW_WATERMARK_PERCENT_PROP_NAME, VOLUME_LOW_WATERMARK_PERCENT_DEFAULT);
    private int volumeRecordsMax = Integer.getInteger(VOLUME_RECORDS_MAX_PROP_NAME, VOLUME_RECORDS_MAX_DEFAULT);
    private int destageBatchMax = Integer.getInteger(DESTAGE_BATCH_MAX_PROP_NAME, DESTAGE_BATCH_MAX_DEFAULT);
    private boolean forceOnFua = Boolean.parseBoolean(
        System.getProperty(FORCE_ON_FUA_PROP_NAME, Boolean.toString(FORCE_ON_FUA_DEFAULT)));

    private int slotCount;
    private int globalHighSlots;
    private int globalLowSlots;
    private int volumeFairSlots;
    private int volumeSlotsMax;
    private int volumeLowSlots;
    private boolean concluded;

    /**
     * Validates the values and derives the slot limits; idempotent.
     *
     * @throws IllegalArgumentException naming the first bad value.
     */
    public CacheContext conclude()
    {
        if (regionPath == null)
        {
            throw new IllegalArgumentException("regionPath=null");
        }
        if (arrayId == null)
        {
            try
            {
                arrayId = UUID.fromString(arrayIdText);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException("arrayId=" + arrayIdText + " is not a UUID", ex);
            }
        }
        requireRange("regionSizeBytes", regionSizeBytes, NvmeRegion.REGION_SIZE_BYTES_MIN,
            NvmeRegion.REGION_SIZE_BYTES_MAX);
        if (regionSizeBytes % NvmeRegion.BLOCK_SIZE_BYTES != 0)
        {
            throw new IllegalArgumentException("regionSizeBytes=" + regionSizeBytes + " is not a multiple of " +
                NvmeRegion.BLOCK_SIZE_BYTES);
        }
        requireRange("recordCount", recordCount, 1, RECORD_COUNT_MAX);
        requireRange("nodeId", nodeId, 0, NODE_ID_MAX);
        requireRange("volumeCountMax", volumeCountMax, 1, VOLUME_COUNT_MAX_LIMIT);
        requireRange("globalHighWatermarkPercent", globalHighWatermarkPercent, 2, 100);
        requireRange("globalLowWatermarkPercent", globalLowWatermarkPercent, 1, globalHighWatermarkPercent - 1);
        requireRange("volumeDirtyPercentMax", volumeDirtyPercentMax, 1, 100);
        requireRange("volumeLowWatermarkPercent", volumeLowWatermarkPercent, 0, 99);
        requireRange("volumeRecordsMax", volumeRecordsMax, 1, VOLUME_RECORDS_MAX_LIMIT);
        requireRange("destageBatchMax", destageBatchMax, 1, DESTAGE_BATCH_MAX_LIMIT);
        if ((long)volumeCountMax * volumeRecordsMax > recordCount)
        {
            throw new IllegalArgumentException("recordCount=" + recordCount + " < volumeCountMax=" + volumeCountMax +
                " x volumeRecordsMax=" + volumeRecordsMax + " (records could be starved)");
        }

        slotCount = NvmeRegion.slotCountFor(regionSizeBytes, recordCount);
        globalHighSlots = (int)((long)slotCount * globalHighWatermarkPercent / 100);
        globalLowSlots = (int)((long)slotCount * globalLowWatermarkPercent / 100);
        volumeFairSlots = (slotCount - globalHighSlots) / volumeCountMax - 1;
        volumeSlotsMax = (int)((long)slotCount * volumeDirtyPercentMax / 100);
        volumeLowSlots = (int)((long)volumeSlotsMax * volumeLowWatermarkPercent / 100);
        if (volumeFairSlots < 1)
        {
            throw new IllegalArgumentException("regionSizeBytes=" + regionSizeBytes + " (slotCount=" + slotCount +
                ") leaves no fair share of slots above globalHighWatermarkPercent=" + globalHighWatermarkPercent +
                " for volumeCountMax=" + volumeCountMax + "; need (slotCount - globalHighSlots) / volumeCountMax >= 2");
        }
        if (volumeSlotsMax < volumeFairSlots)
        {
            throw new IllegalArgumentException("volumeDirtyPercentMax=" + volumeDirtyPercentMax + " gives volumeSlotsMax=" +
                volumeSlotsMax + " below the fair share volumeFairSlots=" + volumeFairSlots);
        }
        concluded = true;
        return this;
    }

    private static void requireRange(final String name, final long value, final long min, final long max)
    {
        if (value < min || value > max)
        {
            throw new IllegalArgumentException(name + "=" + value + " not in [" + min + ", " + max + "]");
        }
    }

    private void requireConcluded()
    {
        if (!concluded)
        {
            throw new IllegalStateException("CacheContext not concluded");
        }
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    public Path regionPath()
    {
        return regionPath;
    }

    public CacheContext regionPath(final Path regionPath)
    {
        this.regionPath = regionPath;
        return this;
    }

    public long regionSizeBytes()
    {
        return regionSizeBytes;
    }

    public CacheContext regionSizeBytes(final long regionSizeBytes)
    {
        this.regionSizeBytes = regionSizeBytes;
        return this;
    }

    public int recordCount()
    {
        return recordCount;
    }

    public CacheContext recordCount(final int recordCount)
    {
        this.recordCount = recordCount;
        return this;
    }

    public UUID arrayId()
    {
        return arrayId != null ? arrayId : UUID.fromString(arrayIdText);
    }

    public CacheContext arrayId(final UUID arrayId)
    {
        this.arrayId = arrayId;
        this.arrayIdText = String.valueOf(arrayId);
        return this;
    }

    public int nodeId()
    {
        return nodeId;
    }

    public CacheContext nodeId(final int nodeId)
    {
        this.nodeId = nodeId;
        return this;
    }

    public int volumeCountMax()
    {
        return volumeCountMax;
    }

    public CacheContext volumeCountMax(final int volumeCountMax)
    {
        this.volumeCountMax = volumeCountMax;
        return this;
    }

    public int globalHighWatermarkPercent()
    {
        return globalHighWatermarkPercent;
    }

    public CacheContext globalHighWatermarkPercent(final int percent)
    {
        this.globalHighWatermarkPercent = percent;
        return this;
    }

    public int globalLowWatermarkPercent()
    {
        return globalLowWatermarkPercent;
    }

    public CacheContext globalLowWatermarkPercent(final int percent)
    {
        this.globalLowWatermarkPercent = percent;
        return this;
    }

    public int volumeDirtyPercentMax()
    {
        return volumeDirtyPercentMax;
    }

    public CacheContext volumeDirtyPercentMax(final int percent)
    {
        this.volumeDirtyPercentMax = percent;
        return this;
    }

    public int volumeLowWatermarkPercent()
    {
        return volumeLowWatermarkPercent;
    }

    public CacheContext volumeLowWatermarkPercent(final int percent)
    {
        this.volumeLowWatermarkPercent = percent;
        return this;
    }

    public int volumeRecordsMax()
    {
        return volumeRecordsMax;
    }

    public CacheContext volumeRecordsMax(final int volumeRecordsMax)
    {
        this.volumeRecordsMax = volumeRecordsMax;
        return this;
    }

    public int destageBatchMax()
    {
        return destageBatchMax;
    }

    public CacheContext destageBatchMax(final int destageBatchMax)
    {
        this.destageBatchMax = destageBatchMax;
        return this;
    }

    public boolean forceOnFua()
    {
        return forceOnFua;
    }

    public CacheContext forceOnFua(final boolean forceOnFua)
    {
        this.forceOnFua = forceOnFua;
        return this;
    }

    /** Derived (after {@link #conclude()}): page slots in the region. */
    public int slotCount()
    {
        requireConcluded();
        return slotCount;
    }

    public int globalHighSlots()
    {
        requireConcluded();
        return globalHighSlots;
    }

    public int globalLowSlots()
    {
        requireConcluded();
        return globalLowSlots;
    }

    public int volumeFairSlots()
    {
        requireConcluded();
        return volumeFairSlots;
    }

    public int volumeSlotsMax()
    {
        requireConcluded();
        return volumeSlotsMax;
    }

    public int volumeLowSlots()
    {
        requireConcluded();
        return volumeLowSlots;
    }

    /** The values as {@code -D} arguments, so a test can start a child JVM with the same settings. */
    public String[] toSystemPropertyArguments()
    {
        final List<String> args = new ArrayList<>();
        args.add("-D" + REGION_PATH_PROP_NAME + "=" + regionPath);
        args.add("-D" + REGION_SIZE_BYTES_PROP_NAME + "=" + regionSizeBytes);
        args.add("-D" + RECORD_COUNT_PROP_NAME + "=" + recordCount);
        args.add("-D" + ARRAY_ID_PROP_NAME + "=" + arrayIdText);
        args.add("-D" + NODE_ID_PROP_NAME + "=" + nodeId);
        args.add("-D" + VOLUME_COUNT_MAX_PROP_NAME + "=" + volumeCountMax);
        args.add("-D" + GLOBAL_HIGH_WATERMARK_PERCENT_PROP_NAME + "=" + globalHighWatermarkPercent);
        args.add("-D" + GLOBAL_LOW_WATERMARK_PERCENT_PROP_NAME + "=" + globalLowWatermarkPercent);
        args.add("-D" + VOLUME_DIRTY_PERCENT_MAX_PROP_NAME + "=" + volumeDirtyPercentMax);
        args.add("-D" + VOLUME_LOW_WATERMARK_PERCENT_PROP_NAME + "=" + volumeLowWatermarkPercent);
        args.add("-D" + VOLUME_RECORDS_MAX_PROP_NAME + "=" + volumeRecordsMax);
        args.add("-D" + DESTAGE_BATCH_MAX_PROP_NAME + "=" + destageBatchMax);
        args.add("-D" + FORCE_ON_FUA_PROP_NAME + "=" + forceOnFua);
        return args.toArray(new String[0]);
    }

    @Override
    public String toString()
    {
        return "CacheContext{regionPath=" + regionPath + ", regionSizeBytes=" + regionSizeBytes + ", recordCount=" +
            recordCount + ", arrayId=" + arrayIdText + ", nodeId=" + nodeId + ", volumeCountMax=" + volumeCountMax +
            ", globalHighWatermarkPercent=" + globalHighWatermarkPercent + ", globalLowWatermarkPercent=" +
            globalLowWatermarkPercent + ", volumeDirtyPercentMax=" + volumeDirtyPercentMax +
            ", volumeLowWatermarkPercent=" + volumeLowWatermarkPercent + ", volumeRecordsMax=" + volumeRecordsMax +
            ", destageBatchMax=" + destageBatchMax + ", forceOnFua=" + forceOnFua + '}';
    }
}
