package io.afasim.mirror;

/**
 * Status codes of the write cache's data path (no exceptions there). Non-negative codes are normal
 * outcomes; negative codes are operating errors that the caller counts and handles.
 */
public final class CacheStatus
{
    /** The change is in local NVMe memory (and handed to the mirror sink, if any). */
    public static final int OK = 0;
    /** Read: the block was served from the cache (a cached page, or zeroes of a cached TRIM/WRITE_ZEROES). */
    public static final int HIT = 1;
    /** Read: the cache holds nothing newer than the layer below; read from there. */
    public static final int MISS = 2;
    /**
     * Write/trim: dirty space is above a watermark or no slot/record is free. Not an error: the controller
     * parks the request, urges destage and re-drives it; it never fails the host request.
     */
    public static final int BACK_PRESSURE = 3;
    /** A cached page does not match its data checksum: never returned as data. */
    public static final int CHECKSUM_MISMATCH = -2;

    private CacheStatus()
    {
    }

    public static boolean isError(final int status)
    {
        return status < 0;
    }

    public static String name(final int status)
    {
        switch (status)
        {
            case OK: return "OK";
            case HIT: return "HIT";
            case MISS: return "MISS";
            case BACK_PRESSURE: return "BACK_PRESSURE";
            case CHECKSUM_MISMATCH: return "CHECKSUM_MISMATCH";
            default: return "UNKNOWN(" + status + ")";
        }
    }
}
