package io.afasim.mirror;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The 64-byte entry that describes one cached change: a page descriptor (one per page slot) or a
 * transaction record (TRIM / WRITE_ZEROES, in the record area). Little-endian.
 *
 * <pre>
 *   0                  8            12     14     16                  24            28            32
 *   +------------------+------------+------+------+-------------------+-------------+-------------+
 *   | sequence (u64)   | volume id  | kind | ver  | lba (u64)         | block count | data crc32c |
 *   +------------------+------------+------+------+-------------------+-------------+-------------+
 *   32                                                                                60          64
 *   | reserved, zero                                                                 | entry crc32c|
 *   +--------------------------------------------------------------------------------+-------------+
 * </pre>
 *
 * <ul>
 *   <li>{@code sequence}: global, strictly increasing per region; {@code 0} means free. It is the valid
 *   marker and is stored <b>last</b> (after the page, after bytes 8..63), with an ordered store.</li>
 *   <li>{@code kind}: {@link #KIND_PAGE}, {@link #KIND_TRIM}, {@link #KIND_WRITE_ZEROES}; {@code ver} is
 *   {@link #VERSION}.</li>
 *   <li>{@code data crc32c}: crc32c of the 4 KiB page ({@link #KIND_PAGE}); 0 otherwise.</li>
 *   <li>{@code entry crc32c}: crc32c of bytes 0..59, sequence included, so an entry torn at any byte is
 *   detected; a page torn at any byte is detected by the data crc32c.</li>
 * </ul>
 * Entries hold no slot or record index: the same bytes are valid at any position (mirroring seam).
 * 64 divides 4096, so no entry straddles a sector.
 */
public final class ChangeEntry
{
    public static final int LENGTH_BYTES = 64;
    public static final short VERSION = 1;

    public static final short KIND_PAGE = 1;
    public static final short KIND_TRIM = 2;
    public static final short KIND_WRITE_ZEROES = 3;

    static final int SEQUENCE_OFFSET = 0;
    static final int VOLUME_ID_OFFSET = 8;
    static final int KIND_OFFSET = 12;
    static final int VERSION_OFFSET = 14;
    static final int LBA_OFFSET = 16;
    static final int BLOCK_COUNT_OFFSET = 24;
    static final int DATA_CRC_OFFSET = 28;
    static final int CHECKSUM_OFFSET = 60;
    /** Bytes written before the sequence: everything after it. */
    static final int BODY_OFFSET = 8;

    private ChangeEntry()
    {
    }

    /**
     * Encodes a complete entry into {@code scratch} (a byte-array-backed buffer of at least 64 bytes at
     * offset 0) and returns nothing: the entry crc32c is computed by {@code crc} over the array.
     */
    static void encode(
        final MutableDirectBuffer scratch,
        final byte[] scratchArray,
        final Crc32cCalculator crc,
        final long sequence,
        final int volumeId,
        final short kind,
        final long lba,
        final int blockCount,
        final int dataCrc)
    {
        assert sequence > 0 : "sequence=" + sequence;
        assert blockCount > 0 : "blockCount=" + blockCount;
        scratch.setMemory(0, LENGTH_BYTES, (byte)0);
        scratch.putLong(SEQUENCE_OFFSET, sequence);
        scratch.putInt(VOLUME_ID_OFFSET, volumeId);
        scratch.putShort(KIND_OFFSET, kind);
        scratch.putShort(VERSION_OFFSET, VERSION);
        scratch.putLong(LBA_OFFSET, lba);
        scratch.putInt(BLOCK_COUNT_OFFSET, blockCount);
        scratch.putInt(DATA_CRC_OFFSET, dataCrc);
        scratch.putInt(CHECKSUM_OFFSET, crc.bytes(scratchArray, 0, CHECKSUM_OFFSET));
    }

    static boolean isKind(final short kind)
    {
        return kind == KIND_PAGE || kind == KIND_TRIM || kind == KIND_WRITE_ZEROES;
    }

    public static long sequence(final DirectBuffer buffer, final int offset)
    {
        return buffer.getLong(offset + SEQUENCE_OFFSET);
    }

    public static int volumeId(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + VOLUME_ID_OFFSET);
    }

    public static short kind(final DirectBuffer buffer, final int offset)
    {
        return buffer.getShort(offset + KIND_OFFSET);
    }

    public static long lba(final DirectBuffer buffer, final int offset)
    {
        return buffer.getLong(offset + LBA_OFFSET);
    }

    public static int blockCount(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + BLOCK_COUNT_OFFSET);
    }

    public static int dataCrc(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + DATA_CRC_OFFSET);
    }

    public static String kindName(final short kind)
    {
        switch (kind)
        {
            case KIND_PAGE: return "PAGE";
            case KIND_TRIM: return "TRIM";
            case KIND_WRITE_ZEROES: return "WRITE_ZEROES";
            default: return "UNKNOWN(" + kind + ")";
        }
    }
}
