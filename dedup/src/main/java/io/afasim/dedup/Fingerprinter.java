package io.afasim.dedup;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * SHA-256 of 4 KiB blocks and zero-block detection, with no allocation per block: the digest,
 * a scratch copy of the block and the 32-byte result are reused. One per volume thread.
 */
final class Fingerprinter
{
    static final int BLOCK_SIZE_BYTES = 4096;
    static final int FINGERPRINT_BYTES = 32;

    private final MessageDigest sha256;
    private final byte[] block = new byte[BLOCK_SIZE_BYTES];
    private final byte[] digest = new byte[FINGERPRINT_BYTES];
    private final UnsafeBuffer fingerprint = new UnsafeBuffer(digest);

    Fingerprinter()
    {
        try
        {
            sha256 = MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("the JDK has no SHA-256", ex);
        }
    }

    /** True when every byte of the 4 KiB block is zero (thin: such blocks are unmapped, not stored). */
    static boolean isZero(final DirectBuffer buffer, final int offset)
    {
        for (int i = 0; i < BLOCK_SIZE_BYTES; i += Long.BYTES)
        {
            if (buffer.getLong(offset + i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    /** Hashes the block; the result is valid until the next call (see {@link #fingerprint()}). */
    DirectBuffer digest(final DirectBuffer buffer, final int offset)
    {
        final byte[] array = buffer.byteArray();
        if (array != null)
        {
            sha256.update(array, buffer.wrapAdjustment() + offset,
                BLOCK_SIZE_BYTES);
        }
        else
        {
            buffer.getBytes(offset, block, 0, BLOCK_SIZE_BYTES);
            sha256.update(block, 0, BLOCK_SIZE_BYTES);
        }
        try
        {
            sha256.digest(digest, 0, FINGERPRINT_BYTES);
        }
        catch (final java.security.DigestException ex)
        {
            throw new IllegalStateException(ex);
        }
        return fingerprint;
    }

    DirectBuffer fingerprint()
    {
        return fingerprint;
    }

    /** The first 8 bytes of a fingerprint as the B+ tree orders them (its first key word). */
    static long prefix(final DirectBuffer fingerprint, final int offset)
    {
        return fingerprint.getLong(offset, java.nio.ByteOrder.BIG_ENDIAN);
    }
}
