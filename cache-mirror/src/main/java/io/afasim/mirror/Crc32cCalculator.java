package io.afasim.mirror;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * crc32c over ranges of the mapped region or of a byte array, without allocation: owns a {@link CRC32C}
 * and a private duplicate of the region's {@link ByteBuffer} (whose position/limit it moves). One
 * instance per thread: each {@link WriteCache} and each scan has its own.
 */
final class Crc32cCalculator
{
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer regionView;

    Crc32cCalculator(final ByteBuffer region)
    {
        this.regionView = region.duplicate();
    }

    int region(final long offset, final int lengthBytes)
    {
        assert offset >= 0 && offset + lengthBytes <= regionView.capacity() : "offset=" + offset;
        regionView.limit((int)offset + lengthBytes).position((int)offset);
        crc.reset();
        crc.update(regionView);
        return (int)crc.getValue();
    }

    int bytes(final byte[] bytes, final int offset, final int lengthBytes)
    {
        crc.reset();
        crc.update(bytes, offset, lengthBytes);
        return (int)crc.getValue();
    }
}
