package io.afasim.journal;

/**
 * Geometry of a shelf, fixed at format time and recorded in every drive header.
 *
 * @param driveCount        number of drive files in the shelf.
 * @param driveSizeBytes    size of each drive file, a multiple of the segment size.
 * @param segmentSizeBytes  allocation unit of the log-structured pool (default 4 MiB).
 * @param journalSizeBytes  size of the metadata redo journal region on drive 0.
 */
public record ShelfConfig(int driveCount, long driveSizeBytes, int segmentSizeBytes, long journalSizeBytes)
{
    public static final int DRIVE_COUNT_DEFAULT = 4;
    public static final int DRIVE_COUNT_MAX = 64;
    public static final long DRIVE_SIZE_BYTES_DEFAULT = 1L << 30;
    public static final int SEGMENT_SIZE_BYTES_DEFAULT = 4 << 20;
    /** Smallest segment: a summary needs a few blocks, so segments smaller than this waste most of their space. */
    public static final int SEGMENT_SIZE_BYTES_MIN = 256 << 10;
    public static final int SEGMENT_SIZE_BYTES_MAX = 64 << 20;
    public static final long JOURNAL_SIZE_BYTES_DEFAULT = 64L << 20;
    public static final long JOURNAL_SIZE_BYTES_MIN = 1L << 20;

    public ShelfConfig
    {
        if (driveCount < 1 || driveCount > DRIVE_COUNT_MAX)
        {
            throw new IllegalArgumentException("driveCount=" + driveCount + " not in [1, " + DRIVE_COUNT_MAX + "]");
        }
        if (segmentSizeBytes < SEGMENT_SIZE_BYTES_MIN || segmentSizeBytes > SEGMENT_SIZE_BYTES_MAX ||
            Integer.bitCount(segmentSizeBytes) != 1)
        {
            throw new IllegalArgumentException("segmentSizeBytes=" + segmentSizeBytes +
                " must be a power of two in [" + SEGMENT_SIZE_BYTES_MIN + ", " + SEGMENT_SIZE_BYTES_MAX + "]");
        }
        if (journalSizeBytes < JOURNAL_SIZE_BYTES_MIN || journalSizeBytes % Drive.BLOCK_SIZE_BYTES != 0)
        {
            throw new IllegalArgumentException("journalSizeBytes=" + journalSizeBytes +
                " must be a multiple of 4096 and at least " + JOURNAL_SIZE_BYTES_MIN);
        }
        if (driveSizeBytes % segmentSizeBytes != 0)
        {
            throw new IllegalArgumentException("driveSizeBytes=" + driveSizeBytes +
                " must be a multiple of segmentSizeBytes=" + segmentSizeBytes);
        }
    }

    public static ShelfConfig defaults()
    {
        return new ShelfConfig(
            DRIVE_COUNT_DEFAULT, DRIVE_SIZE_BYTES_DEFAULT, SEGMENT_SIZE_BYTES_DEFAULT, JOURNAL_SIZE_BYTES_DEFAULT);
    }
}
