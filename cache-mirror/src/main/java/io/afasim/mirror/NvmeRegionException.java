package io.afasim.mirror;

/** An NVMe memory region that cannot be used: foreign, damaged, of another geometry, or not mappable. */
public final class NvmeRegionException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public NvmeRegionException(final String message)
    {
        super(message);
    }

    public NvmeRegionException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
