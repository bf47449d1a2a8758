package io.afasim.dedup;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Model key of the fingerprint B+ tree tests: four longs compared unsigned, most significant first (the tree's
 * documented order).
 */
record Fp(long a, long b, long c, long d) implements Comparable<Fp>
{
    @Override
    public int compareTo(final Fp other)
    {
        int comparison = Long.compareUnsigned(a, other.a);
        if (comparison == 0)
        {
            comparison = Long.compareUnsigned(b, other.b);
        }
        if (comparison == 0)
        {
            comparison = Long.compareUnsigned(c, other.c);
        }
        return comparison != 0 ? comparison : Long.compareUnsigned(d, other.d);
    }

    static Fp read(final DirectBuffer buffer, final int offset)
    {
        return new Fp(
            buffer.getLong(offset, ByteOrder.BIG_ENDIAN),
            buffer.getLong(offset + 8, ByteOrder.BIG_ENDIAN),
            buffer.getLong(offset + 16, ByteOrder.BIG_ENDIAN),
            buffer.getLong(offset + 24, ByteOrder.BIG_ENDIAN));
    }

    void writeTo(final MutableDirectBuffer buffer, final int offset)
    {
        buffer.putLong(offset, a, ByteOrder.BIG_ENDIAN);
        buffer.putLong(offset + 8, b, ByteOrder.BIG_ENDIAN);
        buffer.putLong(offset + 16, c, ByteOrder.BIG_ENDIAN);
        buffer.putLong(offset + 24, d, ByteOrder.BIG_ENDIAN);
    }
}
