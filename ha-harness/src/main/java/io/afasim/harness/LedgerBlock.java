package io.afasim.harness;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The self-describing 4 KiB block a {@link LedgerWriter} writes: what it is (volume, LBA, version) is in the block,
 * the rest is derived from those and the seed, and a crc32c covers it all. Read back, a block is therefore
 * recognisable as never written (all zero), torn or damaged (crc), misdirected (another volume's or LBA's block),
 * or a known version of this LBA, whose exact content is regenerated and compared.
 *
 * <pre>
 *   0                   8                   16                  24                  32
 *   +-------------------+-------------------+-------------------+-------------------+
 *   | magic "afaLEDG1"  | volume tag        | LBA               | version (1, 2 ..) |
 *   +-------------------+-------------------+-------------------+-------------------+
 *   | seed              | body: xorshift64 stream of (seed, tag, LBA, version) ...  |
 *   +-------------------+                                       +-------------------+
 *   | ...                                                       | crc32c of 0..4091 |
 *   +-----------------------------------------------------------+-------------------+
 *   40                                                          4092                4096
 * </pre>
 * Big-endian fields. The volume tag is the FNV-1a hash of the volume's name.
 */
public final class LedgerBlock
{
    public static final int BLOCK_SIZE_BYTES = 4096;
    static final long MAGIC = bytesAsLong("afaLEDG1");
    static final int TAG_OFFSET = 8;
    static final int LBA_OFFSET = 16;
    static final int VERSION_OFFSET = 24;
    static final int SEED_OFFSET = 32;
    static final int BODY_OFFSET = 40;
    static final int CRC_OFFSET = BLOCK_SIZE_BYTES - 4;

    private LedgerBlock()
    {
    }

    /** FNV-1a 64 of the volume's name. */
    public static long volumeTag(final String volume)
    {
        long hash = 0xcbf29ce484222325L;
        for (final byte b : volume.getBytes(StandardCharsets.UTF_8))
        {
            hash ^= b & 0xFF;
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /** Writes version {@code version} of block {@code lba} into {@code block[offset, offset + 4096)}. */
    public static void fill(
        final byte[] block, final int offset, final long volumeTag, final long lba, final long version, final long seed)
    {
        fill(block, offset, volumeTag, lba, version, seed, new CRC32C());
    }

    /** {@link #fill(byte[], int, long, long, long, long)} with the caller's checksum (no allocation per block). */
    static void fill(
        final byte[] block, final int offset, final long volumeTag, final long lba, final long version, final long seed,
        final CRC32C crc)
    {
        if (version < 1)
        {
            throw new IllegalArgumentException("versions start at 1: " + version);
        }
        putLong(block, offset, MAGIC);
        putLong(block, offset + TAG_OFFSET, volumeTag);
        putLong(block, offset + LBA_OFFSET, lba);
        putLong(block, offset + VERSION_OFFSET, version);
        putLong(block, offset + SEED_OFFSET, seed);
        long x = seed ^ volumeTag ^ (lba * 0x9E3779B97F4A7C15L) ^ (version * 0xC2B2AE3D27D4EB4FL);
        x = x == 0 ? 1 : x;
        for (int i = BODY_OFFSET; i + 8 <= CRC_OFFSET; i += 8)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            putLong(block, offset + i, x);
        }
        putInt(block, offset + CRC_OFFSET - 4, (int)x); // the last 4 body bytes
        putInt(block, offset + CRC_OFFSET, crc(block, offset, crc));
    }

    static int crc(final byte[] block, final int offset, final CRC32C crc)
    {
        crc.reset();
        crc.update(block, offset, CRC_OFFSET);
        return (int)crc.getValue();
    }

    static boolean isZero(final byte[] block, final int offset)
    {
        for (int i = offset; i < offset + BLOCK_SIZE_BYTES; i++)
        {
            if (block[i] != 0)
            {
                return false;
            }
        }
        return true;
    }

    /** Magic and crc both right: the block is whole (which volume, LBA and version it is comes next). */
    static boolean isWhole(final byte[] block, final int offset, final CRC32C crc)
    {
        return getLong(block, offset) == MAGIC && getInt(block, offset + CRC_OFFSET) == crc(block, offset, crc);
    }

    static long getLong(final byte[] block, final int index)
    {
        return ((long)getInt(block, index) << 32) | (getInt(block, index + 4) & 0xFFFF_FFFFL);
    }

    static int getInt(final byte[] block, final int index)
    {
        return ((block[index] & 0xFF) << 24) | ((block[index + 1] & 0xFF) << 16) | ((block[index + 2] & 0xFF) << 8) |
            (block[index + 3] & 0xFF);
    }

    private static void putLong(final byte[] block, final int index, final long value)
    {
        putInt(block, index, (int)(value >>> 32));
        putInt(block, index + 4, (int)value);
    }

    private static void putInt(final byte[] block, final int index, final int value)
    {
        block[index] = (byte)(value >>> 24);
        block[index + 1] = (byte)(value >>> 16);
        block[index + 2] = (byte)(value >>> 8);
        block[index + 3] = (byte)value;
    }

    private static long bytesAsLong(final String eightAscii)
    {
        return ByteBuffer.wrap(eightAscii.getBytes(StandardCharsets.US_ASCII)).getLong();
    }
}
