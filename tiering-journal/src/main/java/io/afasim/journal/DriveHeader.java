package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.UUID;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * The first 4 KiB block of every drive: who the drive belongs to and the shelf geometry.
 *
 * <pre>
 *   0                   8            12           16                          32
 *   +-------------------+------------+------------+---------------------------+
 *   | magic "AFASSD01"  | version    | minCompat  | array id (msb, lsb)       |
 *   +------------+------------+-------------------+------------+--------------+
 *   32           36           40                  48           52             56
 *   | drive idx  | drive count| drive size bytes  | segment sz | block size   |
 *   +------------+------------+-------------------+------------+--------------+
 *   56                        64                        72                4092  4096
 *   | journal size bytes      | format time (epoch ms)  | zero ...        | crc32c |
 *   +-------------------------+-------------------------+-----------------+--------+
 * </pre>
 *
 * The crc32c covers bytes 0..4091. A reader refuses a header whose {@code minCompat} is above its
 * {@link #VERSION}.
 */
public record DriveHeader(
    UUID arrayId, int driveIndex, ShelfConfig config, long formatTimeMs)
{
    public static final long MAGIC = 0x3130_4453_5341_4641L; // "AFASSD01" little-endian
    public static final int VERSION = 1;
    public static final int MIN_COMPATIBLE_VERSION = 1;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int MIN_COMPATIBLE_OFFSET = 12;
    static final int ARRAY_ID_MSB_OFFSET = 16;
    static final int ARRAY_ID_LSB_OFFSET = 24;
    static final int DRIVE_INDEX_OFFSET = 32;
    static final int DRIVE_COUNT_OFFSET = 36;
    static final int DRIVE_SIZE_OFFSET = 40;
    static final int SEGMENT_SIZE_OFFSET = 48;
    static final int BLOCK_SIZE_OFFSET = 52;
    static final int JOURNAL_SIZE_OFFSET = 56;
    static final int FORMAT_TIME_OFFSET = 64;
    static final int CHECKSUM_OFFSET = Drive.BLOCK_SIZE_BYTES - 4;

    /** Encodes into the first 4 KiB of {@code block} (a direct buffer), checksum last. */
    public void encode(final ByteBuffer block)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(block, 0, Drive.BLOCK_SIZE_BYTES);
        buffer.setMemory(0, Drive.BLOCK_SIZE_BYTES, (byte)0);
        buffer.putLong(MAGIC_OFFSET, MAGIC);
        buffer.putInt(VERSION_OFFSET, VERSION);
        buffer.putInt(MIN_COMPATIBLE_OFFSET, MIN_COMPATIBLE_VERSION);
        buffer.putLong(ARRAY_ID_MSB_OFFSET, arrayId.getMostSignificantBits());
        buffer.putLong(ARRAY_ID_LSB_OFFSET, arrayId.getLeastSignificantBits());
        buffer.putInt(DRIVE_INDEX_OFFSET, driveIndex);
        buffer.putInt(DRIVE_COUNT_OFFSET, config.driveCount());
        buffer.putLong(DRIVE_SIZE_OFFSET, config.driveSizeBytes());
        buffer.putInt(SEGMENT_SIZE_OFFSET, config.segmentSizeBytes());
        buffer.putInt(BLOCK_SIZE_OFFSET, Drive.BLOCK_SIZE_BYTES);
        buffer.putLong(JOURNAL_SIZE_OFFSET, config.journalSizeBytes());
        buffer.putLong(FORMAT_TIME_OFFSET, formatTimeMs);
        buffer.putInt(CHECKSUM_OFFSET, checksum(block));
    }

    /**
     * Decodes and validates a header block read from {@code driveName}.
     *
     * @throws ShelfException naming the drive and the first thing that is wrong.
     */
    public static DriveHeader decode(final ByteBuffer block, final String driveName)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(block, 0, Drive.BLOCK_SIZE_BYTES);
        final long magic = buffer.getLong(MAGIC_OFFSET);
        if (magic != MAGIC)
        {
            throw new ShelfException("drive " + driveName + ": not an afasim drive (magic 0x" +
                Long.toHexString(magic) + ", expected 0x" + Long.toHexString(MAGIC) + ")");
        }
        final int storedChecksum = buffer.getInt(CHECKSUM_OFFSET);
        final int computedChecksum = checksum(block);
        if (storedChecksum != computedChecksum)
        {
            throw new ShelfException("drive " + driveName + ": header checksum mismatch (stored 0x" +
                Integer.toHexString(storedChecksum) + ", computed 0x" + Integer.toHexString(computedChecksum) +
                "): the header is damaged");
        }
        final int minCompatible = buffer.getInt(MIN_COMPATIBLE_OFFSET);
        if (minCompatible > VERSION)
        {
            throw new ShelfException("drive " + driveName + ": format version " + buffer.getInt(VERSION_OFFSET) +
                " needs a reader of version " + minCompatible + " or later; this is version " + VERSION);
        }
        final int blockSize = buffer.getInt(BLOCK_SIZE_OFFSET);
        if (blockSize != Drive.BLOCK_SIZE_BYTES)
        {
            throw new ShelfException("drive " + driveName + ": block size " + blockSize + ", expected " +
                Drive.BLOCK_SIZE_BYTES);
        }
        final ShelfConfig config;
        try
        {
            config = new ShelfConfig(
                buffer.getInt(DRIVE_COUNT_OFFSET),
                buffer.getLong(DRIVE_SIZE_OFFSET),
                buffer.getInt(SEGMENT_SIZE_OFFSET),
                buffer.getLong(JOURNAL_SIZE_OFFSET));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ShelfException("drive " + driveName + ": header holds an invalid geometry: " + ex.getMessage());
        }
        return new DriveHeader(
            new UUID(buffer.getLong(ARRAY_ID_MSB_OFFSET), buffer.getLong(ARRAY_ID_LSB_OFFSET)),
            buffer.getInt(DRIVE_INDEX_OFFSET),
            config,
            buffer.getLong(FORMAT_TIME_OFFSET));
    }

    static int checksum(final ByteBuffer block)
    {
        final CRC32C crc = new CRC32C();
        crc.update(block.duplicate().clear().limit(CHECKSUM_OFFSET));
        return (int)crc.getValue();
    }
}
