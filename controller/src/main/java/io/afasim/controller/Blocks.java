package io.afasim.controller;

import org.agrona.DirectBuffer;

/** Block helpers of the controller. */
final class Blocks
{
    private Blocks()
    {
    }

    /** True when the first 4 KiB of {@code block} are all zero. */
    static boolean isZero(final DirectBuffer block)
    {
        for (int i = 0; i < 4096; i += Long.BYTES)
        {
            if (block.getLong(i) != 0)
            {
                return false;
            }
        }
        return true;
    }
}
