package io.afasim.journal;

/**
 * Status codes returned by the data path instead of exceptions. An operating error (media error,
 * checksum mismatch, no space) is a status that the caller counts and handles; exceptions are kept
 * for broken invariants and bad configuration.
 */
public final class IoStatus
{
    public static final int OK = 0;
    /** The drive returned an error (EIO or an injected fault). */
    public static final int MEDIA_ERROR = -1;
    /** Data read back does not match its stored checksum: never returned as data. */
    public static final int CHECKSUM_MISMATCH = -2;
    /** Offset or length outside the drive or region. */
    public static final int OUT_OF_RANGE = -3;
    /** No free segment or journal space: the caller must clean or checkpoint and retry. */
    public static final int NO_SPACE = -4;
    /** The block is not allocated or not written. */
    public static final int NOT_FOUND = -5;

    private IoStatus()
    {
    }

    public static boolean isError(final long status)
    {
        return status < 0;
    }

    public static String name(final long status)
    {
        if (status >= 0)
        {
            return "OK";
        }
        switch ((int)status)
        {
            case MEDIA_ERROR: return "MEDIA_ERROR";
            case CHECKSUM_MISMATCH: return "CHECKSUM_MISMATCH";
            case OUT_OF_RANGE: return "OUT_OF_RANGE";
            case NO_SPACE: return "NO_SPACE";
            case NOT_FOUND: return "NOT_FOUND";
            default: return "UNKNOWN(" + status + ")";
        }
    }
}
